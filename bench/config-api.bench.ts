// Requests per second of Berth's config API (GET one registry, GET the list of 1,000) against a bare Express app
// serving the same JSON bodies in another process; autocannon, 10 connections, loopback. Prints both and the ratio.
// Berth runs as deployed (dist/, every check on: token, role, contract validation, the request log middleware);
// both servers run on the same node, the peer by Node's type stripping.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startBerth, exitOf, type BerthProcess } from '../test/helpers/berth.js';
import { machineLoad, median, reportFigure } from './figures.js';

const REGISTRIES = 1000;
const CONNECTIONS = 10;
const WARMUP_SECONDS = 1;
const MEASURE_SECONDS = 3;
/** Berth and the peer are measured in turn this many times; the ratio is the median of each round's ratio. */
const ROUNDS = 3;
const LIST = '/v1/config/image-registry/remote-registries';
const PEER = fileURLToPath(new URL('./bare-express-peer.ts', import.meta.url));

/** A registry as an operator would configure it: an override, three credentials. */
const registry = (i: number) => ({
  address: `registry-${String(i).padStart(4, '0')}.example.com:5000`,
  'override-address': `mirror-${i}.example.com`,
  credentials: [
    { repository: '*', vault: 'kv', secret: `registries/r${i}/default` },
    { repository: 'team/app', vault: 'kv', secret: `registries/r${i}/team` },
    { repository: 'team/app/tools', vault: 'kv', secret: `registries/r${i}/tools` },
  ],
});

async function startPeer(bodiesFile: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [PEER, bodiesFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the peer did not start within 30 s:\n${output}`)), 30_000);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /peer listening on (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', (code) => reject(new Error(`the peer exited with ${code}:\n${output}`)));
  });
  return { url, child };
}

/** Requests per second (mean over the run) and latency percentiles; fails on any error or non-2xx answer. */
async function measure(url: string, headers: Record<string, string>, seconds = MEASURE_SECONDS): Promise<{ rps: number; p50: number; p99: number }> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

type Measured = { rps: number; p50: number; p99: number };
/** The round with the median rps. */
const middle = (runs: Measured[]): Measured => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;

async function createRegistries(berth: BerthProcess): Promise<void> {
  let next = 0;
  const writer = async () => {
    for (let i = next++; i < REGISTRIES; i = next++) {
      const res = await fetch(`${berth.url}${LIST}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${berth.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(registry(i)),
      });
      if (res.status !== 201) throw new Error(`creating registry ${i}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, writer));
}

async function main(): Promise<void> {
  const started = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  let berth: BerthProcess | undefined;
  let peer: ChildProcess | undefined;
  try {
    berth = await startBerth({ dataDir: join(workDir, 'data'), env: { BERTH_LOG_LEVEL: 'warn' } });
    await createRegistries(berth);
    const auth = { authorization: `Bearer ${berth.adminToken}` };
    const onePath = `${LIST}/${registry(500).address}`;
    const one = await (await fetch(`${berth.url}${onePath}`, { headers: auth })).json();
    const list = (await (await fetch(`${berth.url}${LIST}`, { headers: auth })).json()) as unknown[];
    if (list.length !== REGISTRIES) throw new Error(`the list holds ${list.length} registries, not ${REGISTRIES}`);
    const bodiesFile = join(workDir, 'bodies.json');
    writeFileSync(bodiesFile, JSON.stringify({ one, list }));
    const peerProcess = await startPeer(bodiesFile);
    peer = peerProcess.child;

    const rows: [string, string, string, number][] = [
      ['GET one registry', `${berth.url}${onePath}`, `${peerProcess.url}/one`, Buffer.byteLength(JSON.stringify(one))],
      [`GET the list of ${REGISTRIES.toLocaleString('en')}`, `${berth.url}${LIST}`, `${peerProcess.url}/list`, Buffer.byteLength(JSON.stringify(list))],
    ];
    console.log(
      `config API vs bare Express 5, autocannon ${CONNECTIONS} connections, ${ROUNDS} rounds of ${MEASURE_SECONDS} s each in turn after ${WARMUP_SECONDS} s warm-up, loopback; medians; node ${process.version}; load ${machineLoad()}\n`,
    );
    console.log(`${'request'.padEnd(24)}${'body'.padStart(10)}${'berth rps'.padStart(12)}${'p50/p99 ms'.padStart(12)}${'bare rps'.padStart(12)}${'p50/p99 ms'.padStart(12)}${'ratio'.padStart(8)}`);
    for (const [name, berthUrl, peerUrl, bytes] of rows) {
      await measure(berthUrl, auth, WARMUP_SECONDS);
      await measure(peerUrl, {}, WARMUP_SECONDS);
      const rounds: { ours: Measured; bare: Measured }[] = [];
      for (let round = 0; round < ROUNDS; round++) rounds.push({ ours: await measure(berthUrl, auth), bare: await measure(peerUrl, {}) });
      const ours = middle(rounds.map((r) => r.ours));
      const bare = middle(rounds.map((r) => r.bare));
      const ratio = median(rounds.map((r) => r.ours.rps / r.bare.rps));
      console.log(
        `${name.padEnd(24)}${`${(bytes / 1024).toFixed(1)} KiB`.padStart(10)}${ours.rps.toFixed(0).padStart(12)}${`${ours.p50}/${ours.p99}`.padStart(12)}` +
          `${bare.rps.toFixed(0).padStart(12)}${`${bare.p50}/${bare.p99}`.padStart(12)}${ratio.toFixed(2).padStart(8)}`,
      );
      reportFigure({
        name: `${name}: Berth / bare Express rps`,
        value: ratio,
        unit: 'x',
        ...(name === 'GET one registry' ? { goal: { op: '>=' as const, target: 0.6 } } : {}),
        detail: `Berth ${ours.rps.toFixed(0)} rps, bare Express ${bare.rps.toFixed(0)} rps`,
      });
    }
    console.log(`\nratio = Berth rps / bare Express rps (1.00 = no overhead), median of ${ROUNDS} rounds; load ${machineLoad()}; total ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    if (peer && peer.exitCode === null) {
      peer.kill('SIGTERM');
      await exitOf(peer);
    }
    if (berth) await berth.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
