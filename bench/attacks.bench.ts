// The attacks of issue 10, replayed against a Berth process, each printed with its outcome, the peak RSS it caused
// and the worst event-loop stall while it ran. The stall is measured twice by a /healthz prober: as wall time (what a
// client waits; on a loaded machine this includes waiting for a CPU) and as main-thread CPU time between two answers
// (what Berth itself spent without turning its loop; /proc/PID/task/PID/schedstat). Figures, not pass/fail.
//
//   node --import tsx bench/attacks.bench.ts                      this tree
//   node --import tsx bench/attacks.bench.ts --before DIR         also a tree at DIR (e.g. `git archive b1cb7cb`,
//                                                                 with node_modules), first, side by side
// Berth runs with --max-old-space-size=1536 (both trees), so an attack that would grow it without bound kills it at
// about 1.5 GB instead of taking the machine's memory. Needs root (prlimit on the Berth process).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { rootCertificates } from 'node:tls';
import yaml from 'js-yaml';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from '../test/helpers/berth.js';
import { startHostileRegistry, OCI_MANIFEST, type HostileRegistry } from '../test/helpers/hostile-registry.js';
import { createCertificateAuthority } from '../test/helpers/tls.js';

const MiB = 1024 * 1024;
const HEAP_MB = 1536;
/** An attack still running after this long is reported as such and Berth is killed. */
const ATTACK_TIMEOUT_MS = 120_000;
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Berth {
  url: string;
  token: string;
  pid: number;
  child: ChildProcess;
  dataDir: string;
  exited: Promise<string>;
}

async function startBerthFrom(root: string, env: Record<string, string> = {}): Promise<Berth> {
  const token = `attack-admin-${Math.random().toString(36).slice(2)}-token`;
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-attacks-'));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_') && !k.startsWith('VAULT_')));
  const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--import', 'tsx', join(root, 'src', 'main.ts')], {
    cwd: root,
    env: { ...clean, BERTH_LISTEN: '127.0.0.1:0', BERTH_DATA_DIR: dataDir, BERTH_ADMIN_TOKEN: token, BERTH_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<string>((done) => child.once('exit', (code, signal) => done(/heap out of memory/i.test(output) ? 'died: JavaScript heap out of memory' : `exited ${code ?? signal}`)));
  const url = await new Promise<string>((done, fail) => {
    const check = () => {
      const match = /berth listening on (\S+)/.exec(output);
      if (match) done(match[1]!);
    };
    child.stdout!.on('data', check);
    void exited.then((how) => fail(new Error(`berth ${how} before listening:\n${output}`)));
  });
  return { url, token, pid: child.pid!, child, dataDir, exited };
}

async function stopBerth(berth: Berth): Promise<void> {
  if (berth.child.exitCode === null && berth.child.signalCode === null) berth.child.kill('SIGKILL');
  await berth.exited;
  rmSync(berth.dataDir, { recursive: true, force: true });
}

const procField = (pid: number, field: string): number => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
};
const mainThreadCpuMs = (pid: number) => Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
const openFiles = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

interface Measured<T> {
  outcome: T | string;
  seconds: number;
  peakRssMiB: number;
  worstWallMs: number;
  worstCpuMs: number;
}

/** Runs `attack` while probing /healthz and sampling RSS; a Berth that dies or hangs is reported, not thrown. */
async function measure<T>(berth: Berth, attack: () => Promise<T>): Promise<Measured<T>> {
  try {
    writeFileSync(`/proc/${berth.pid}/clear_refs`, '5');
  } catch {
    // Not resettable here: the peak then counts from start-up, which is lower than any attack's anyway.
  }
  let running = true;
  let worstWallMs = 0;
  let worstCpuMs = 0;
  let peakRssMiB = 0;
  const alive = () => berth.child.exitCode === null && berth.child.signalCode === null;
  const sample = () => {
    if (!alive()) return;
    try {
      peakRssMiB = Math.max(peakRssMiB, procField(berth.pid, 'VmHWM'), procField(berth.pid, 'VmRSS'));
    } catch {
      // Gone between the check and the read.
    }
  };
  const sampler = setInterval(sample, 50);
  const prober = (async () => {
    let lastCpu = mainThreadCpuMs(berth.pid);
    while (running && alive()) {
      const started = performance.now();
      const answered = await new Promise<boolean>((done) => {
        const req = request(`${berth.url}/healthz`, { agent: false }, (res) => {
          res.resume();
          res.on('end', () => done(true));
        });
        req.on('error', () => done(false));
        req.setTimeout(ATTACK_TIMEOUT_MS, () => req.destroy());
        req.end();
      });
      if (!answered) break;
      worstWallMs = Math.max(worstWallMs, performance.now() - started);
      try {
        const cpu = mainThreadCpuMs(berth.pid);
        worstCpuMs = Math.max(worstCpuMs, cpu - lastCpu);
        lastCpu = cpu;
      } catch {
        break;
      }
      await sleep(2);
    }
  })();
  const started = performance.now();
  let outcome: T | string;
  try {
    outcome = await Promise.race([
      attack(),
      berth.exited.then((how) => `Berth ${how}`),
      sleep(ATTACK_TIMEOUT_MS).then(() => `still running after ${ATTACK_TIMEOUT_MS / 1000} s`),
    ]);
  } catch (error) {
    outcome = alive() ? `failed: ${(error as Error).message}` : `Berth ${await berth.exited}`;
  }
  const seconds = (performance.now() - started) / 1000;
  sample();
  running = false;
  clearInterval(sampler);
  await Promise.race([prober, sleep(1000)]);
  return { outcome, seconds, peakRssMiB, worstWallMs, worstCpuMs };
}

/** An HTTP request whose body the attack writes piece by piece; resolves with the status, or 'no answer'. */
function streamed(berth: Berth, method: string, path: string) {
  const url = new URL(berth.url);
  const req = request({ host: url.hostname, port: url.port, method, path, agent: false, headers: { authorization: `Bearer ${berth.token}`, 'transfer-encoding': 'chunked', 'content-type': 'application/octet-stream' } });
  const answer = new Promise<string>((done) => {
    req.on('response', (res) => {
      res.resume();
      done(String(res.statusCode));
    });
    req.on('error', (e) => setTimeout(() => done(`connection ${(e as NodeJS.ErrnoException).code ?? e.message}`), 500));
  });
  // A write after the answer may never complete (the client closes its side once the answer ends): the answer wins.
  const write = (chunk: Buffer) => Promise.race([new Promise<void>((done) => req.write(chunk, () => done())), answer.then(() => {})]);
  return { req, answer, write };
}

const counted = (statuses: Array<number | string>) =>
  Object.entries(statuses.reduce<Record<string, number>>((all, s) => ({ ...all, [String(s)]: (all[String(s)] ?? 0) + 1 }), {}))
    .map(([status, n]) => `${n}x${status}`)
    .join(' ');

interface Attack {
  name: string;
  /** Settings for this tree's Berth only (a tree without them would refuse to start). */
  env?: Record<string, string>;
  run(berth: Berth, remote: HostileRegistry): Promise<string>;
}

/** A valid image manifest of `bytes` bytes (an annotation pads it) whose config the remote serves. */
function paddedManifest(remote: HostileRegistry, repository: string, bytes: number) {
  const config = remote.addBlob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })));
  const descriptor = { ...config, mediaType: 'application/vnd.oci.image.config.v1+json' };
  const template = (pad: number) => JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor, layers: [], annotations: { pad: 'x'.repeat(pad) } });
  return remote.addManifest(repository, Buffer.from(template(bytes - template(0).length)), OCI_MANIFEST);
}

async function configure(berth: Berth, remote: HostileRegistry): Promise<void> {
  const res = await fetch(`${berth.url}/v1/config/image-registry/remote-registries`, {
    method: 'POST',
    headers: { authorization: `Bearer ${berth.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ address: remote.address, 'ca-cert': remote.caCertPem }),
  });
  if (res.status !== 201) throw new Error(`configuring the remote: ${res.status} ${await res.text()}`);
}

/**
 * The routes the attacks use, once each with harmless input: the first request to a route compiles its validators,
 * which would otherwise count as the attack's stall.
 */
async function warmUp(berth: Berth, remote: HostileRegistry): Promise<void> {
  const headers = { authorization: `Bearer ${berth.token}` };
  const registry = `${berth.url}/v1/config/image-registry/remote-registries/warm.example.com`;
  await fetch(registry, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: '{"address":"warm.example.com"}' });
  await fetch(registry, { method: 'PATCH', headers: { ...headers, 'content-type': 'application/json-patch+json' }, body: '[]' });
  remote.addImage('warm/app', 'warm', { tag: 'v1' });
  if (!(await pull(berth, remote, 'warm/app:v1')).startsWith('200')) throw new Error('the warm-up pull failed');
  const started = await fetch(`${berth.url}/v2/warm/app/blobs/uploads/`, { method: 'POST', headers });
  await fetch(`${berth.url}${started.headers.get('location')}`, { method: 'DELETE', headers });
}

async function pull(berth: Berth, remote: HostileRegistry, image: string): Promise<string> {
  const res = await fetch(`${berth.url}/v1/state/image-registry/remote-registries/${remote.address}/pull`, {
    method: 'POST',
    headers: { authorization: `Bearer ${berth.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ image, 'all-platforms': true }),
  });
  const text = await res.text();
  return `${res.status} ${res.status === 200 ? '' : text.slice(0, 90)}`;
}

const uploadPosts = async (berth: Berth, n: number) => {
  const statuses: Array<number | string> = [];
  for (let i = 0; i < n; i++) {
    statuses.push(await fetch(`${berth.url}/v2/attack/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${berth.token}` } }).then((r) => r.status, (e: Error) => `reset (${(e.cause as NodeJS.ErrnoException | undefined)?.code ?? e.message})`));
  }
  return statuses;
};

const jsonPatch = async (berth: Berth, copies: number): Promise<string> => {
  const path = `${berth.url}/v1/config/image-registry/remote-registries/patched.example.com`;
  const headers = { authorization: `Bearer ${berth.token}` };
  const credentials = Array.from({ length: 8 }, (_, i) => ({ repository: `team/app-${i}`, vault: 'kv', secret: `registries/app-${i}` }));
  await fetch(path, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ address: 'patched.example.com', credentials }) });
  const body = JSON.stringify(Array.from({ length: copies }, () => ({ op: 'copy', from: '/credentials', path: '/credentials/-' })));
  const res = await fetch(path, { method: 'PATCH', headers: { ...headers, 'content-type': 'application/json-patch+json' }, body });
  return `${res.status} (${body.length} B patch) ${(await res.text()).slice(0, 80)}`;
};

/**
 * The largest remote registry entry a body may carry: 1,000 credentials of long names, and as CA bundle Node's own
 * root certificates (about 140 distinct ones, 200 KB: each must be parsed, the costliest check there is).
 */
function largestRegistry(address: string, secretSuffix = 's') {
  const long = (i: number, c: string) => `${c}${i}`.padEnd(250, 'x');
  return {
    address,
    'ca-cert': rootCertificates.join('\n'),
    credentials: Array.from({ length: 1000 }, (_, i) => ({ repository: `team${i}/${'a'.repeat(240)}`, vault: long(i, 'v'), secret: long(i, secretSuffix) })),
  };
}

const send = async (berth: Berth, method: string, path: string, type: string, body: string) => {
  const res = await fetch(`${berth.url}${path}`, { method, headers: { authorization: `Bearer ${berth.token}`, 'content-type': type }, body });
  return `${res.status} (${body.length} B) ${(await res.text()).slice(0, 80)}`;
};

const ATTACKS: Attack[] = [
  {
    name: 'index bomb: an index listing one 4 MiB manifest 1,200 times, pull all platforms',
    async run(berth, remote) {
      const child = paddedManifest(remote, 'bomb/app', 4 * MiB - 4096);
      remote.addIndex('bomb/app', Array.from({ length: 1200 }, () => child), 'idx');
      return pull(berth, remote, 'bomb/app:idx');
    },
  },
  {
    name: 'index bomb, 64 entries (the same 4 MiB manifest)',
    async run(berth, remote) {
      const child = paddedManifest(remote, 'bomb64/app', 4 * MiB - 4096);
      remote.addIndex('bomb64/app', Array.from({ length: 64 }, () => child), 'idx');
      const fetched = () => remote.requests.filter((p) => p.endsWith(child.digest)).length;
      const before = fetched();
      const answer = await pull(berth, remote, 'bomb64/app:idx');
      return `${answer}; the 4 MiB manifest fetched ${fetched() - before} times`;
    },
  },
  {
    name: '200 upload sessions (POST /v2/<name>/blobs/uploads/), one token',
    async run(berth) {
      const files = openFiles(berth.pid);
      const statuses = await uploadPosts(berth, 200);
      return `${counted(statuses)}; open files ${files} -> ${openFiles(berth.pid)}`;
    },
  },
  {
    name: '200 upload sessions at a soft limit of 120 open files',
    env: { BERTH_UPLOAD_SESSIONS_PER_TOKEN: '1000' },
    async run(berth) {
      execFileSync('prlimit', ['--pid', String(berth.pid), '--nofile=120:']);
      const statuses = await uploadPosts(berth, 200);
      return `${counted(statuses)}; open files ${openFiles(berth.pid)}`;
    },
  },
  { name: 'JSON Patch doubling the document, 21 copy operations', run: (berth) => jsonPatch(berth, 21) },
  { name: 'JSON Patch doubling the document, 40 copy operations', run: (berth) => jsonPatch(berth, 40) },
  {
    name: 'largest input: POST of a 1 MiB remote registry (JSON, and YAML), then PUT, a 1,000-operation JSON Patch and a merge PATCH',
    async run(berth) {
      const path = '/v1/config/image-registry/remote-registries';
      const document = largestRegistry('largest.example.com');
      // YAML says the same in more bytes: as many credentials as fit the 1 MiB body limit.
      const asYaml = yaml.dump({ ...document, address: 'largest-yaml.example.com', credentials: document.credentials.slice(0, 930) });
      const answers = [
        await send(berth, 'POST', path, 'application/json', JSON.stringify(document)),
        await send(berth, 'POST', path, 'application/yaml', asYaml),
        await send(berth, 'PUT', `${path}/largest.example.com`, 'application/json', JSON.stringify(largestRegistry('largest.example.com', 't'))),
        await send(berth, 'PATCH', `${path}/largest.example.com`, 'application/json-patch+json',
          JSON.stringify(document.credentials.map((c, i) => ({ op: 'replace', path: `/credentials/${i}/secret`, value: c.secret.replace('s', 'p') })))),
        await send(berth, 'PATCH', `${path}/largest.example.com`, 'application/merge-patch+json',
          JSON.stringify({ credentials: document.credentials.map((c) => ({ ...c, secret: c.secret.replace('s', 'm') })) })),
      ];
      return answers.map((a) => a.split(' ').slice(0, 2).join(' ')).join(', ');
    },
  },
  {
    name: 'largest input: /v2 PUT of an index listing 20,000 manifests (4 MiB), then GET of the repositories state',
    async run(berth) {
      const headers = { authorization: `Bearer ${berth.token}` };
      const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
      await fetch(`${berth.url}/v2/wide/app/blobs/uploads/?digest=${sha256(config)}`, { method: 'POST', headers, body: config });
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] }));
      await fetch(`${berth.url}/v2/wide/app/manifests/${sha256(manifest)}`, { method: 'PUT', headers: { ...headers, 'content-type': OCI_MANIFEST }, body: manifest });
      const entry = { mediaType: OCI_MANIFEST, digest: sha256(manifest), size: manifest.length, platform: { os: 'linux', architecture: 'amd64' } };
      const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: Array.from({ length: 20_000 }, () => entry) });
      const put = await send(berth, 'PUT', '/v2/wide/app/manifests/v1', 'application/vnd.oci.image.index.v1+json', index);
      const state = await fetch(`${berth.url}/v1/state/image-registry/repositories`, { headers });
      await state.arrayBuffer();
      return `PUT ${put.slice(0, 60)}; state GET ${state.status}`;
    },
  },
  {
    name: 'unanswered: chunked PATCH, DELETE of the upload, then more body',
    async run(berth) {
      const started = await fetch(`${berth.url}/v2/cancel/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${berth.token}` } });
      const location = started.headers.get('location')!;
      const patch = streamed(berth, 'PATCH', location);
      await patch.write(Buffer.alloc(256 * 1024, 1));
      await sleep(300);
      const deleted = await fetch(`${berth.url}${location}`, { method: 'DELETE', headers: { authorization: `Bearer ${berth.token}` } });
      const since = performance.now();
      await patch.write(Buffer.alloc(64 * 1024, 2));
      const answer = await Promise.race([patch.answer, sleep(15_000).then(() => 'no answer within 15 s')]);
      patch.req.destroy();
      return `DELETE ${deleted.status}; PATCH: ${answer}${/^\d/.test(answer) ? ` after ${Math.round(performance.now() - since)} ms` : ''}`;
    },
  },
  {
    name: 'unanswered: disk write failing mid-body (file-size limit 2 MiB, 8 MiB upload)',
    async run(berth) {
      execFileSync('prlimit', ['--pid', String(berth.pid), '--fsize=2097152:']);
      const bytes = Buffer.alloc(8 * MiB, 3);
      const upload = streamed(berth, 'POST', `/v2/full/app/blobs/uploads/?digest=${sha256(bytes)}`);
      const since = performance.now();
      for (let at = 0; at < bytes.length; at += 256 * 1024) await upload.write(bytes.subarray(at, at + 256 * 1024));
      upload.req.end();
      const answer = await Promise.race([upload.answer, sleep(15_000).then(() => 'no answer within 15 s')]);
      upload.req.destroy();
      return `${answer}${/^\d/.test(answer) ? ` after ${Math.round(performance.now() - since)} ms` : ''}`;
    },
  },
];

async function runAll(label: string, root: string, current: boolean): Promise<Array<Measured<string>>> {
  const ca = createCertificateAuthority('Berth Attacks CA');
  const remote = await startHostileRegistry(ca);
  const results: Array<Measured<string>> = [];
  try {
    for (const attack of ATTACKS) {
      process.stderr.write(`[${label}] ${attack.name} ...\n`);
      const berth = await startBerthFrom(root, current ? attack.env : {});
      try {
        await configure(berth, remote);
        await warmUp(berth, remote);
        results.push(await measure(berth, () => attack.run(berth, remote)));
      } finally {
        await stopBerth(berth);
      }
    }
  } finally {
    await remote.stop();
    rmSync(ca.dir, { recursive: true, force: true });
  }
  return results;
}

const { values } = parseArgs({ options: { before: { type: 'string' } } });
const trees: Array<[string, string]> = [...(values.before ? [['before', resolve(values.before)] as [string, string]] : []), ['this tree', PROJECT_ROOT]];
const all: Array<[string, Array<Measured<string>>]> = [];
for (const [label, root] of trees) all.push([label, await runAll(label, root, root === PROJECT_ROOT)]);

console.log(`Attacks of issue 10 (Berth heap capped at ${HEAP_MB} MB; worst stall = longest /healthz wait, and main-thread CPU between two answers)`);
ATTACKS.forEach((attack, i) => {
  console.log(`\n${attack.name}`);
  for (const [label, results] of all) {
    const r = results[i]!;
    console.log(`  ${label.padEnd(10)} ${r.outcome}`);
    console.log(`  ${''.padEnd(10)} ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, worst stall ${r.worstWallMs.toFixed(0)} ms wall / ${r.worstCpuMs.toFixed(0)} ms CPU`);
  }
});
