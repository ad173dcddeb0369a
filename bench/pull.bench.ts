// Pull throughput and memory: Berth pulling from a local docker-registry (TLS, loopback) into its site registry,
// against skopeo copying the same image to an OCI layout in the same run. Prints the time ratio Berth/skopeo (the
// median of each run's ratio), Berth's peak RSS (VmHWM) during a pull above its idle RSS just before it, and the time
// of a repeated pull of an image already present. Then a fresh Berth's very first pull, of 1 GB: its peak above the
// idle RSS it started from, which includes what a first pull loads and compiles. Berth fsyncs every blob before it
// answers; skopeo is the peer as is.
// Run: node --import tsx bench/pull.bench.ts   (about 3-5 minutes; needs docker-registry and skopeo)
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startBerth, type BerthProcess } from '../test/helpers/berth.js';
import { startDockerRegistry, type RunningRegistry } from '../test/helpers/docker-registry.js';
import { buildSinglePlatformImage, pushImage, type BuiltImage } from '../test/helpers/oci-images.js';
import { machineLoad, median, orStop, reportFigure, rssMiB } from './figures.js';

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;

interface Case {
  label: string;
  layerSizes: number[];
  /** Each run pulls a new image (new content: Berth would otherwise find every blob present); medians are printed. */
  runs: number;
  /** Let Berth go idle before each pull, so the peak is measured above its idle RSS. */
  fromIdle?: boolean;
}

/** A quiet moment before a pull measured from idle: the previous pull's last writes and timers are over. */
const IDLE_SETTLE_MS = 3_000;

/** Fresh processes that each make a first pull of the 1 GB image; the worst peak is the figure. */
const FRESH_RUNS = 3;

const CASES: Case[] = [
  { label: '10 MB, 1 layer', layerSizes: [10 * MiB], runs: 5 },
  // 0.3 s a side: two identical Berths differ by up to 25% from one run to the next here, so more runs than the rest.
  { label: '100 MB, 4 layers', layerSizes: Array(4).fill(25 * MiB), runs: 5 },
  { label: '1 GB, 4 layers', layerSizes: Array(4).fill(256 * MiB), runs: 3, fromIdle: true },
];

/** Resets the peak (Linux: `5` to clear_refs) so each image's peak is its own; false where that is not allowed. */
function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Configures `registry` (TLS, anonymous) as a remote registry of `berth`. */
async function addRemoteRegistry(berth: BerthProcess, registry: RunningRegistry): Promise<void> {
  const created = await fetch(`${berth.url}/v1/config/image-registry/remote-registries`, {
    method: 'POST',
    headers: { authorization: `Bearer ${berth.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ address: registry.address, 'ca-cert': registry.caCertPem }),
  });
  if (created.status !== 201) throw new Error(`registering the registry answered ${created.status}`);
}

/** A fresh process's first pull: the RSS it was idle at, its peak above that (MiB), and the pull's time. */
interface FirstPull {
  idle: number;
  overIdle: number;
  seconds: number;
}

/**
 * A fresh Berth's first pull, of `image` (already in the registry), after being configured and left alone for
 * IDLE_SETTLE_MS.
 */
async function firstPullPeak(registry: RunningRegistry, image: string, digest: string): Promise<FirstPull> {
  const berth = await orStop(registry, startBerth({ env: { BERTH_LOG_LEVEL: 'warn' } }));
  try {
    await addRemoteRegistry(berth, registry);
    await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
    const pid = berth.process.pid!;
    const idle = rssMiB(pid);
    resetPeakRss(pid);
    const pulled = await timed(() => pullWithBerth(berth, registry.address, image, image));
    if (pulled.value.digest !== digest) throw new Error(`berth stored ${pulled.value.digest}, expected ${digest}`);
    return { idle, overIdle: rssMiB(pid, 'VmHWM') - idle, seconds: pulled.seconds };
  } finally {
    await berth.stop();
    rmSync(berth.dataDir, { recursive: true, force: true });
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

async function pullWithBerth(berth: BerthProcess, registry: string, image: string, to: string): Promise<{ digest: string }> {
  const res = await fetch(`${berth.url}/v1/state/image-registry/remote-registries/${registry}/pull`, {
    method: 'POST',
    headers: { authorization: `Bearer ${berth.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ image, to }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`pull of ${image} answered ${res.status}: ${text}`);
  return JSON.parse(text) as { digest: string };
}

async function copyWithSkopeo(registry: RunningRegistry, certDir: string, image: string, layout: string): Promise<void> {
  await execFileAsync('skopeo', [
    '--insecure-policy', 'copy', '--quiet', '--src-cert-dir', certDir, '--src-no-creds',
    `docker://${registry.address}/${image}`, `oci:${layout}:bench`,
  ], { maxBuffer: 16 * MiB });
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'berth-pull-bench-'));
  const registry = await startDockerRegistry({ auth: { kind: 'none' } });
  const berth = await orStop(registry, startBerth({ env: { BERTH_LOG_LEVEL: 'warn' } }));
  const images: BuiltImage[] = [];
  /** The image of the last run (1 GB), which fresh processes pull first at the end. */
  let lastPulled: { image: string; digest: string } | undefined;
  try {
    const certDir = join(workDir, 'certs');
    mkdirSync(certDir);
    writeFileSync(join(certDir, 'ca.crt'), registry.caCertPem);
    await addRemoteRegistry(berth, registry);

    const pid = berth.process.pid!;
    const canReset = resetPeakRss(pid);
    process.stdout.write(`node ${process.version}; berth pid ${pid}; peak RSS ${canReset ? 'reset before each pull' : 'cumulative (clear_refs not writable)'}; load ${machineLoad()}\n`);
    process.stdout.write(`berth RSS now: ${fmt(rssMiB(pid), 1)} MiB\n\n`);
    process.stdout.write('image (runs; medians)   skopeo s   berth s   berth/skopeo   idle RSS MiB   max peak over idle MiB   repeat pull s\n');

    for (const [i, c] of CASES.entries()) {
      const runs: Array<{ skopeo: number; berth: number; idle: number; peak: number; repeat: number }> = [];
      for (let run = 0; run < c.runs; run++) {
        const image = await buildSinglePlatformImage({ seed: `pull-bench-${i}-${run}`, layerSizes: c.layerSizes });
        images.push(image);
        const repository = `bench/image${i}-${run}`;
        await pushImage(image, { address: registry.address, caCertPem: registry.caCertPem }, repository, 'v1');

        // skopeo first, then Berth: both read the same registry files, warm in the page cache after the push. Where
        // Berth is to start idle, both start after the same quiet wait (the disk's write-back settles in it too).
        if (c.fromIdle) await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
        const layout = join(workDir, `skopeo-${i}-${run}`);
        const skopeo = await timed(() => copyWithSkopeo(registry, certDir, `${repository}:v1`, layout));
        rmSync(layout, { recursive: true, force: true });

        // Berth has been idle while the image was built and pushed (and for long enough, where the peak is a goal):
        // this is the RSS the pull starts from.
        if (c.fromIdle) await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
        const idle = rssMiB(pid);
        resetPeakRss(pid);
        const berthPull = await timed(() => pullWithBerth(berth, registry.address, `${repository}:v1`, `${repository}:v1`));
        if (berthPull.value.digest !== image.digest) throw new Error(`berth stored ${berthPull.value.digest}, expected ${image.digest}`);
        const peak = rssMiB(pid, 'VmHWM');
        const repeat = await timed(() => pullWithBerth(berth, registry.address, `${repository}:v1`, `${repository}:again`));
        runs.push({ skopeo: skopeo.seconds, berth: berthPull.seconds, idle, peak, repeat: repeat.seconds });
        lastPulled = { image: `${repository}:v1`, digest: image.digest };
        image.remove();
      }
      const skopeo = median(runs.map((r) => r.skopeo));
      const berthSeconds = median(runs.map((r) => r.berth));
      const ratio = median(runs.map((r) => r.berth / r.skopeo));
      const overIdle = Math.max(...runs.map((r) => r.peak - r.idle));
      process.stdout.write(
        `${`${c.label} (x${c.runs})`.padEnd(22)}  ${fmt(skopeo).padStart(8)}  ${fmt(berthSeconds).padStart(8)}` +
          `  ${fmt(ratio).padStart(13)}  ${fmt(median(runs.map((r) => r.idle)), 1).padStart(13)}  ${fmt(overIdle, 1).padStart(23)}` +
          `  ${fmt(median(runs.map((r) => r.repeat)), 3).padStart(14)}\n`,
      );
      process.stdout.write(`    each run berth/skopeo: ${runs.map((r) => `${fmt(r.berth)}/${fmt(r.skopeo)}`).join(', ')} s\n`);
      reportFigure({
        name: `pull ${c.label}: Berth / skopeo time`,
        value: ratio,
        unit: 'x',
        goal: { op: '<=', target: 0.9 },
        detail: `median of ${c.runs}: Berth ${fmt(berthSeconds)} s, skopeo ${fmt(skopeo)} s`,
      });
      if (c === CASES.at(-1)) {
        reportFigure({
          name: `pull ${c.label}: peak RSS above idle`,
          value: overIdle,
          unit: 'MiB',
          goal: { op: '<=', target: 32 },
          detail: `worst of ${c.runs} runs; idle ${fmt(median(runs.map((r) => r.idle)), 1)} MiB`,
        });
      }
    }

    const firsts: FirstPull[] = [];
    for (let run = 0; run < FRESH_RUNS; run++) firsts.push(await firstPullPeak(registry, lastPulled!.image, lastPulled!.digest));
    const worst = Math.max(...firsts.map((f) => f.overIdle));
    const freshIdle = median(firsts.map((f) => f.idle));
    process.stdout.write(
      `\n1 GB as a fresh process's first pull (x${FRESH_RUNS}): peak over idle ${firsts.map((f) => fmt(f.overIdle, 1)).join(', ')} MiB` +
        ` (idle ${fmt(freshIdle, 1)} MiB; ${firsts.map((f) => fmt(f.seconds)).join(', ')} s)\n`,
    );
    reportFigure({
      name: `pull ${CASES.at(-1)!.label}, a fresh process's first pull: peak RSS above idle`,
      value: worst,
      unit: 'MiB',
      goal: { op: '<=', target: 32 },
      detail: `worst of ${FRESH_RUNS} fresh processes; idle ${fmt(freshIdle, 1)} MiB`,
    });
  } finally {
    await berth.stop();
    await registry.stop();
    for (const image of images) image.remove();
    rmSync(berth.dataDir, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
