// Start-up and idle footprint of `node dist/src/main.js` (SQLite store, a fresh data directory each run): the time
// from spawning it to its first 200 on /healthz, and its resident memory (VmRSS) once idle, after start and again
// after it has served API requests. The peer is a bare Node HTTP server, started and measured the same way in the
// same run: the floor no Node service goes below. Medians of RUNS starts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BERTH_NODE_OPTIONS, builtEntry } from '../test/helpers/built.js';
import { cleanEnv, exitOf } from '../test/helpers/berth.js';
import { freePort } from '../test/helpers/free-port.js';
import { machineLoad, median, reportFigure, rssMiB } from './figures.js';

const RUNS = 5;
/** Long enough for start-up's last work (timers, first checks) to be over. */
const SETTLE_MS = 7_000;
/** What Berth holds once the requests are over and it has been quiet for a while. */
const SETTLE_AFTER_USE_MS = 15_000;
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const LIST = '/v1/config/image-registry/remote-registries';
const BARE_SERVER = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.argv[1]), '127.0.0.1')";

interface Started {
  child: ChildProcess;
  url: string;
  seconds: number;
}

/** Spawns `args` and polls `url`/healthz until it answers 200; the seconds from spawn to that answer. */
async function startAndReach(args: string[], env: NodeJS.ProcessEnv, port: number, path: string): Promise<Started> {
  const url = `http://127.0.0.1:${port}`;
  const begun = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
    const status = await fetch(`${url}${path}`).then((r) => r.status, () => 0);
    if (status === 200) return { child, url, seconds: (performance.now() - begun) / 1000 };
    if (performance.now() - begun > 60_000) throw new Error(`${url}${path} did not answer within 60 s`);
    await sleep(5);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await exitOf(child);
}

/** What an operator's tooling does now and then: a write, reads of one entry and of the list, a few refused requests. */
async function useApi(url: string): Promise<void> {
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const created = await fetch(`${url}${LIST}`, { method: 'POST', headers, body: JSON.stringify({ address: 'registry.example.com', credentials: [{ repository: '*', vault: 'kv', secret: 'a' }] }) });
  if (created.status !== 201) throw new Error(`creating a registry answered ${created.status}`);
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${url}${LIST}/registry.example.com`, { headers });
    if (res.status !== 200) throw new Error(`GET answered ${res.status}`);
    await res.arrayBuffer();
  }
  for (let i = 0; i < 20; i++) {
    await (await fetch(`${url}${LIST}?bogus=1`, { headers })).arrayBuffer();
    await (await fetch(`${url}${LIST}`, { headers: { authorization: 'Bearer wrong-token' } })).arrayBuffer();
    await (await fetch(`${url}${LIST}`, { headers })).arrayBuffer();
  }
}

async function main(): Promise<void> {
  const loadBefore = machineLoad();
  const berth = { start: [] as number[], idle: [] as number[], used: [] as number[] };
  const bare = { start: [] as number[], idle: [] as number[] };
  for (let run = 0; run < RUNS; run++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-startup-bench-'));
    try {
      const port = await freePort();
      const env = cleanEnv({ BERTH_LISTEN: `127.0.0.1:${port}`, BERTH_DATA_DIR: dataDir, BERTH_ADMIN_TOKEN: ADMIN_TOKEN, BERTH_LOG_LEVEL: 'warn' });
      const started = await startAndReach([...BERTH_NODE_OPTIONS, builtEntry('src', 'main')], env, port, '/healthz');
      try {
        berth.start.push(started.seconds);
        await sleep(SETTLE_MS);
        berth.idle.push(rssMiB(started.child.pid!));
        await useApi(started.url);
        await sleep(SETTLE_AFTER_USE_MS);
        berth.used.push(rssMiB(started.child.pid!));
      } finally {
        await stop(started.child);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
    const port = await freePort();
    const peer = await startAndReach(['-e', BARE_SERVER, String(port)], cleanEnv(), port, '/');
    try {
      bare.start.push(peer.seconds);
      await sleep(SETTLE_MS);
      bare.idle.push(rssMiB(peer.child.pid!));
    } finally {
      await stop(peer.child);
    }
  }
  const f = (v: number, digits: number) => v.toFixed(digits);
  const rows: [string, string, string][] = [
    ['start to first /healthz 200, s', f(median(berth.start), 2), f(median(bare.start), 2)],
    ['idle RSS after start, MiB', f(median(berth.idle), 1), f(median(bare.idle), 1)],
    ['idle RSS after API use, MiB', f(median(berth.used), 1), '-'],
  ];
  console.log(
    `node ${process.version}; SQLite store; ${RUNS} starts each, medians; idle = ${SETTLE_MS / 1000} s after start, ${SETTLE_AFTER_USE_MS / 1000} s after the last request; load ${loadBefore} -> ${machineLoad()}\n`,
  );
  console.log(`${''.padEnd(34)}${'berth'.padStart(10)}${'bare node'.padStart(12)}`);
  for (const [name, ours, theirs] of rows) console.log(`${name.padEnd(34)}${ours.padStart(10)}${theirs.padStart(12)}`);
  console.log(`(each run: berth ${berth.start.map((s) => f(s, 2)).join(' ')} s; idle ${berth.idle.map((m) => f(m, 0)).join(' ')} MiB; after use ${berth.used.map((m) => f(m, 0)).join(' ')} MiB)`);

  reportFigure({ name: 'start to /healthz (SQLite store)', value: median(berth.start), unit: 's', goal: { op: '<=', target: 1 }, detail: `bare Node HTTP server ${f(median(bare.start), 2)} s` });
  reportFigure({ name: 'idle RSS after start', value: median(berth.idle), unit: 'MiB', goal: { op: '<=', target: 80 }, detail: `bare Node HTTP server ${f(median(bare.idle), 1)} MiB` });
  reportFigure({ name: 'idle RSS after API use', value: median(berth.used), unit: 'MiB', goal: { op: '<=', target: 80 }, detail: '321 requests, then idle' });
}

await main();
