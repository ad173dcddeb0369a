// One control tower following 10,000 sites on this machine (FLEET_SITES to change the number): simulated sites
// (bench/fleet-followers.ts, in FLEET_PROCESSES processes) each hold the change feed long-polled with a `site` token
// of its own, as Berth sites do. Measured: a configuration change at the tower reaching every site (p50/p99/max over
// sites and rounds), the tower's RSS with all of them connected, `/v1/state/sites` with all entries (whole, counted,
// paged, selected), and a fan-out of verify-credentials to 1,000 of them (`?sites=`). The peer: the same followers on
// a bare node:http long-poll server (bench/long-poll-peer.ts) that only holds connections and answers them.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SITE_TOKENS_MOUNT } from '../test/helpers/berth-site.js';
import { startBerth, type BerthProcess } from '../test/helpers/berth.js';
import { vaultClient } from '../test/helpers/secret-values.js';
import { startVaultDev, type VaultDevInstance } from '../test/helpers/vault-dev.js';

const SITES = Number(process.env.FLEET_SITES ?? 10_000);
const PROCESSES = Number(process.env.FLEET_PROCESSES ?? 1);
const FAN_OUT_SITES = Math.min(1_000, SITES);
const ROUNDS = Number(process.env.FLEET_ROUNDS ?? 10);
/** Registrations sent at once while the fleet is set up. */
const SETUP_CONCURRENCY = 16;
/** The long-poll wait the simulated sites ask for, as Berth sites do. */
const WAIT_SECONDS = 25;
/** Simulated sites that start following per second (all of them per process). */
const RAMP_PER_SECOND = Number(process.env.FLEET_RAMP ?? 500);
const FOLLOWERS = fileURLToPath(new URL('./fleet-followers.ts', import.meta.url));
const PEER = fileURLToPath(new URL('./long-poll-peer.ts', import.meta.url));
const REGISTRY = 'fleet-registry.example.com';
/**
 * Registering 10,000 sites (a token and an entry each, every write synced to disk) takes minutes here. With
 * FLEET_SETUP_CACHE=DIR the tower's data directory and the sites' tokens are kept there after a set-up and copied from
 * there next time (nothing measured includes the set-up).
 */
const SETUP_CACHE = process.env.FLEET_SETUP_CACHE ? join(process.env.FLEET_SETUP_CACHE, `sites-${process.env.FLEET_SITES ?? 10_000}`) : undefined;

interface Tower {
  berth: BerthProcess;
  vault: VaultDevInstance;
  token: string;
  dataDir: string;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const siteName = (i: number) => `sim-${String(i).padStart(5, '0')}`;

/** A follower process and a way to ask it things over IPC. */
class FollowerProcess {
  private readonly waiting = new Map<string, (message: Record<string, unknown>) => void>();
  constructor(readonly child: ChildProcess) {
    child.on('message', (message: Record<string, unknown>) => {
      const type = String(message.type);
      this.waiting.get(type)?.(message);
      this.waiting.delete(type);
    });
  }

  static start(): FollowerProcess {
    return new FollowerProcess(fork(FOLLOWERS, [], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  ask<T extends Record<string, unknown>>(command: Record<string, unknown>, answer: string): Promise<T> {
    return new Promise((resolve) => {
      this.waiting.set(answer, resolve as (m: Record<string, unknown>) => void);
      this.child.send(command);
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'stop' });
    await Promise.race([exited, sleep(10_000)]);
    this.child.kill('SIGKILL');
  }
}

/** Runs `fn` over 0..count-1, `limit` at a time. */
async function forEach(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < count) await fn(next++);
  }));
}

async function api(tower: Tower, method: string, path: string, body?: unknown): Promise<Response> {
  const res = await fetch(`${tower.berth.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${tower.token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res;
}

function rssMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);

async function untilFollowing(processes: FollowerProcess[], count: number, what: string): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const statuses = await Promise.all(processes.map((p) => p.ask<{ following: number; errors: number; lastError: string }>({ type: 'status' }, 'status')));
    const following = statuses.reduce((n, s) => n + s.following, 0);
    if (following >= count) return;
    if (Date.now() > deadline) throw new Error(`${what}: only ${following} of ${count} following; last error: ${statuses.map((s) => s.lastError).join(' | ')}`);
    await sleep(500);
  }
}

/** Makes a change (`change()` resolves with its revision when answered) and collects when each site saw it. */
async function propagation(processes: FollowerProcess[], change: () => Promise<number>): Promise<number[]> {
  const perSite: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await sleep(1_000);
    const started = now();
    const revision = await change();
    const deadline = Date.now() + 120_000;
    for (;;) {
      const answers = await Promise.all(processes.map((p) => p.ask<{ times: (number | null)[] }>({ type: 'arrivals', revision }, 'arrivals')));
      const times = answers.flatMap((a) => a.times);
      if (times.every((t) => t !== null)) {
        perSite.push(...times.map((t) => t! - started));
        break;
      }
      if (Date.now() > deadline) throw new Error(`round ${round}: ${times.filter((t) => t === null).length} sites never saw revision ${revision}`);
      await sleep(100);
    }
  }
  return perSite.sort((a, b) => a - b);
}

async function timed(fn: () => Promise<unknown>, times = 5): Promise<number> {
  const durations: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await fn();
    durations.push(performance.now() - started);
  }
  return median(durations);
}

async function startPeer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', PEER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /peer listening on (\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
  });
  return { url, child };
}

/** A tower with its own vault-dev (site tokens in it), on a data directory of its own or copied from the cache. */
async function startFleetTower(): Promise<Tower> {
  const vault = await startVaultDev({ rootToken: `fleet-vault-${Math.random().toString(36).slice(2)}` });
  const kv = vaultClient(vault.addr, vault.rootToken);
  await kv.mount({ mount_point: SITE_TOKENS_MOUNT, type: 'kv', options: { version: '2' } });
  await kv.write(`${SITE_TOKENS_MOUNT}/data/sim`, { data: { token: 'simulated-site-admin-token' } });
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-fleet-tower-'));
  if (SETUP_CACHE && existsSync(join(SETUP_CACHE, 'sites.json'))) cpSync(join(SETUP_CACHE, 'data'), dataDir, { recursive: true });
  const token = `fleet-admin-${Math.random().toString(36).slice(2)}-token`;
  const berth = await startBerth({ dataDir, adminToken: token, env: { BERTH_LOG_LEVEL: 'warn', BERTH_SITES_ALLOW_HTTP: 'true', VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.rootToken } });
  return { berth, vault, token, dataDir };
}

/** The fleet, registered as an operator would: a token per site, then the site with its labels (or from the cache). */
async function registerFleet(tower: Tower, ports: number[]): Promise<{ name: string; token: string }[]> {
  if (SETUP_CACHE && existsSync(join(SETUP_CACHE, 'sites.json'))) return JSON.parse(readFileSync(join(SETUP_CACHE, 'sites.json'), 'utf8')) as { name: string; token: string }[];
  await api(tower, 'POST', '/v1/config/image-registry/remote-registries', { address: REGISTRY });
  const sites: { name: string; token: string }[] = [];
  await forEach(SITES, SETUP_CONCURRENCY, async (i) => {
    const name = siteName(i);
    const created = (await (await api(tower, 'POST', '/v1/config/system/tokens', { name, role: 'site', site: name })).json()) as { token: string };
    await api(tower, 'PUT', `/v1/config/sites/${name}`, {
      name,
      'api-url': `http://127.0.0.1:${ports[i % PROCESSES]}/sim/${name}`,
      vault: SITE_TOKENS_MOUNT,
      secret: 'sim',
      labels: { shard: String(i % 10), ...(i < FAN_OUT_SITES ? { group: 'fan-out' } : {}) },
    });
    sites[i] = { name, token: created.token };
  });
  if (SETUP_CACHE) {
    mkdirSync(SETUP_CACHE, { recursive: true });
    await tower.berth.stop();
    cpSync(tower.dataDir, join(SETUP_CACHE, 'data'), { recursive: true });
    writeFileSync(join(SETUP_CACHE, 'sites.json'), JSON.stringify(sites));
    writeFileSync(join(SETUP_CACHE, 'ports.json'), JSON.stringify(ports));
    tower.berth = await startBerth({ dataDir: tower.dataDir, adminToken: tower.token, env: { BERTH_LOG_LEVEL: 'warn', BERTH_SITES_ALLOW_HTTP: 'true', VAULT_ADDR: tower.vault.addr, VAULT_TOKEN: tower.vault.rootToken } });
  }
  return sites;
}

async function main(): Promise<void> {
  const begun = Date.now();
  const tower = await startFleetTower();
  const processes = Array.from({ length: PROCESSES }, () => FollowerProcess.start());
  let peer: { url: string; child: ChildProcess } | undefined;
  const peerProcesses: FollowerProcess[] = [];
  try {
    // The sites' api-urls name these ports: a cached set-up listens where it did before.
    const cachedPorts = SETUP_CACHE && existsSync(join(SETUP_CACHE, 'ports.json')) ? (JSON.parse(readFileSync(join(SETUP_CACHE, 'ports.json'), 'utf8')) as number[]) : [];
    const ports = (await Promise.all(processes.map((p, k) => p.ask<{ apiPort: number }>({ type: 'listen', port: cachedPorts[k] ?? 0 }, 'listening')))).map((p) => p.apiPort);
    const setupStarted = performance.now();
    const sites = await registerFleet(tower, ports);
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    const rssIdle = rssMiB(tower.berth.process.pid!);

    const connectStarted = performance.now();
    await Promise.all(processes.map((p, k) => p.ask({ type: 'start', towerUrl: tower.berth.url, sites: sites.filter((_, i) => i % PROCESSES === k), waitSeconds: WAIT_SECONDS, perSecond: RAMP_PER_SECOND / PROCESSES }, 'started')));
    await untilFollowing(processes, SITES, 'the tower');
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    await sleep(2_000);
    const rssConnected = rssMiB(tower.berth.process.pid!);

    let round = 0;
    const berthTimes = await propagation(processes, async () => {
      const res = await api(tower, 'PUT', `/v1/config/image-registry/remote-registries/${REGISTRY}`, { address: REGISTRY, 'override-address': `mirror-${round++}.example.com` });
      return Number(JSON.parse(res.headers.get('etag') ?? '0'));
    });
    const rssAfter = rssMiB(tower.berth.process.pid!);

    const listAll = await timed(async () => {
      const states = (await (await api(tower, 'GET', '/v1/state/sites')).json()) as { connected: boolean }[];
      if (states.length !== SITES) throw new Error(`listed ${states.length} sites`);
    });
    const connected = ((await (await api(tower, 'GET', '/v1/state/sites?fields=connected')).json()) as { connected: boolean }[]).filter((s) => s.connected).length;
    const listCount = await timed(() => api(tower, 'GET', '/v1/state/sites?count=true').then((r) => r.text()));
    const listPage = await timed(() => api(tower, 'GET', `/v1/state/sites?limit=100&after=${siteName(Math.floor(SITES / 2))}`).then((r) => r.text()));
    const listSelected = await timed(() => api(tower, 'GET', '/v1/state/sites?selector=shard%3D3').then((r) => r.text()));

    // Desired images for every site: from the write until the tower counts every site ready (the sites' reports).
    const readyStarted = performance.now();
    await api(tower, 'PUT', '/v1/config/image-registry/site-images/everywhere', { name: 'everywhere', sites: '*', images: [{ image: `${REGISTRY}/fleet/app:v1` }] });
    let readySites = 0;
    for (const deadline = Date.now() + 300_000; readySites < SITES && Date.now() < deadline; await sleep(1_000)) {
      readySites = ((await (await api(tower, 'GET', '/v1/state/image-registry/site-images/everywhere?fields=ready-sites')).json()) as { 'ready-sites': number })['ready-sites'];
    }
    const allReady = performance.now() - readyStarted;
    const readiness = await timed(() => api(tower, 'GET', '/v1/state/image-registry/site-images/everywhere').then((r) => r.text()));

    let fanOutOk = 0;
    const fanOut = await timed(async () => {
      const res = await api(tower, 'POST', `/v1/state/image-registry/remote-registries/${REGISTRY}/verify-credentials?sites=group%3Dfan-out`, {});
      const answer = (await res.json()) as { summary: { ok: number; sites: number } };
      fanOutOk = answer.summary.ok;
      if (answer.summary.sites !== FAN_OUT_SITES) throw new Error(`the fan-out selected ${answer.summary.sites} sites`);
    }, 3);

    // The peer: the same followers, on a server that only holds and answers long-polls.
    peer = await startPeer();
    peerProcesses.push(...Array.from({ length: PROCESSES }, () => FollowerProcess.start()));
    await Promise.all(peerProcesses.map((p) => p.ask({ type: 'listen', port: 0 }, 'listening')));
    // The tower's followers stop first: the peer gets the machine the tower had.
    await Promise.all(processes.map((p) => p.stop()));
    processes.length = 0;
    await Promise.all(peerProcesses.map((p, k) => p.ask({ type: 'start', towerUrl: peer!.url, sites: sites.filter((_, i) => i % PROCESSES === k), waitSeconds: WAIT_SECONDS, perSecond: RAMP_PER_SECOND / PROCESSES }, 'started')));
    await untilFollowing(peerProcesses, SITES, 'the peer');
    await sleep(2_000);
    const peerRss = rssMiB(peer.child.pid!);
    const peerTimes = await propagation(peerProcesses, async () => ((await (await fetch(`${peer!.url}/bump`, { method: 'POST' })).json()) as { revision: number }).revision);

    const ms = (v: number) => `${v.toFixed(0)} ms`;
    const row = (what: string, berth: string, peerValue: string, ratio: string, goal: string) =>
      console.log(`${what.padEnd(58)}${berth.padStart(14)}${peerValue.padStart(14)}${ratio.padStart(8)}  ${goal}`);
    console.log(`\n${SITES} simulated sites in ${PROCESSES} process(es); set up in ${setupSeconds.toFixed(0)} s (${SITES} tokens + ${SITES} sites), starting ${RAMP_PER_SECOND}/s, all following after ${connectSeconds.toFixed(1)} s`);
    row('', 'tower', 'bare peer', 'ratio', 'goal');
    for (const p of [50, 99]) {
      row(`config change -> every site, p${p} (${ROUNDS} rounds)`, ms(percentile(berthTimes, p)), ms(percentile(peerTimes, p)), (percentile(berthTimes, p) / percentile(peerTimes, p)).toFixed(1), p === 99 ? '<= 2000 ms' : '');
    }
    row('config change -> every site, max', ms(berthTimes.at(-1)!), ms(peerTimes.at(-1)!), (berthTimes.at(-1)! / peerTimes.at(-1)!).toFixed(1), '');
    row(`RSS with ${SITES} connected (after the rounds)`, `${rssConnected.rss.toFixed(0)} MiB`, `${peerRss.rss.toFixed(0)} MiB`, (rssConnected.rss / peerRss.rss).toFixed(1), '<= 1024 MiB');
    row('  (idle before they connected / after rounds / peak)', `${rssIdle.rss.toFixed(0)}/${rssAfter.rss.toFixed(0)}/${rssAfter.peak.toFixed(0)}`, '', '', '');
    row(`GET /v1/state/sites, all ${SITES} (${connected} connected)`, ms(listAll), '', '', '<= 1000 ms');
    row('GET /v1/state/sites?count=true', ms(listCount), '', '', '');
    row('GET /v1/state/sites?limit=100&after=...', ms(listPage), '', '', '');
    row(`GET /v1/state/sites?selector=shard=3 (${SITES / 10})`, ms(listSelected), '', '', '');
    row(`fan-out verify-credentials to ${FAN_OUT_SITES} sites (${fanOutOk} ok)`, ms(fanOut), '', '', '<= 10000 ms');
    row(`desired images for all -> ${readySites} of ${SITES} ready at the tower`, ms(allReady), '', '', '');
    row(`GET /v1/state/image-registry/site-images/{name} (${SITES} sites)`, ms(readiness), '', '', '');
    console.log(`(medians of 5 reads and 3 fan-outs; total ${((Date.now() - begun) / 1000).toFixed(0)} s)`);
  } catch (e) {
    // What the tower said (warnings and errors only) is the first thing to read when a run fails.
    const warnings = tower.berth.output().split('\n').filter((l) => /"level":[456]0/.test(l) && !l.includes('request completed'));
    process.stderr.write(`${warnings.slice(-20).join('\n')}\n`);
    if (process.env.FLEET_HOLD_ON_FAILURE) {
      process.stderr.write(`holding the failed fleet for inspection: tower pid ${tower.berth.process.pid}, vault ${tower.vault.addr}\n`);
      await sleep(Number(process.env.FLEET_HOLD_ON_FAILURE) * 1000);
    }
    throw e;
  } finally {
    await Promise.all([...processes, ...peerProcesses].map((p) => p.stop()));
    peer?.child.kill('SIGTERM');
    await tower.berth.stop();
    await tower.vault.stop();
    rmSync(tower.dataDir, { recursive: true, force: true });
  }
}

await main();
