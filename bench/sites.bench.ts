// How long a configuration change at the tower takes to reach 1, 5 and 20 sites (Berth processes on this machine),
// against the tower's own change feed seeing it; and the tower's throughput forwarding `?site=` GETs against the
// same GETs sent to the site directly (autocannon, loopback). Prints the figures and the ratios.
import autocannon from 'autocannon';
import { startSite, startTower, type RunningSite, type RunningTower } from '../test/helpers/berth-site.js';
import { machineLoad, median, reportFigure } from './figures.js';

const SITE_COUNTS = [1, 5, 20];
/** Changes timed per site count. */
const ROUNDS = 15;
/** Sites started at once (bounded: each is a Node process on a 2-core machine). */
const START_BATCH = 4;
const REGISTRIES = 50;
const CONNECTIONS = 10;
const WARMUP_SECONDS = 1;
const MEASURE_SECONDS = 3;
/** Forwarded and direct GETs are measured in turn this many times; the ratio is the median of each round's ratio. */
const RATE_ROUNDS = 3;
const LIST = '/v1/config/image-registry/remote-registries';
const STATE = '/v1/state/image-registry/remote-registries';

type Feed = { revision: number; 'current-revision': number; changes: unknown[] };

async function getJson<T>(url: string, token: string): Promise<T> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** This Berth's own store revision, read from its change feed without waiting. */
const localRevision = async (url: string, token: string) =>
  (await getJson<Feed>(`${url}/v1/state/system/changes?after=0&limit=1&wait=0`, token))['current-revision'];

/**
 * Resolves with the time (performance.now()) at which the Berth at `url` committed a change of the replicated
 * configuration after `after`: its own change feed, long-polled, answers at that moment.
 */
async function nextReplicatedChange(url: string, token: string, after: number): Promise<number> {
  for (let from = after; ; ) {
    const page = await getJson<Feed>(`${url}/v1/state/system/changes?after=${from}&wait=30`, token);
    if (page.changes.length > 0) return performance.now();
    from = page.revision;
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function propagation(tower: RunningTower, sites: RunningSite[]): Promise<{ tower: number[]; all: number[]; each: number[] }> {
  const towerTimes: number[] = [];
  const allTimes: number[] = [];
  const eachTimes: number[] = [];
  const token = tower.api.token;
  for (let round = 0; round < ROUNDS; round++) {
    const [towerAfter, ...siteAfter] = await Promise.all([
      localRevision(tower.berth.url, token),
      ...sites.map((s) => localRevision(s.url, s.api.token)),
    ]);
    const seenAtTower = nextReplicatedChange(tower.berth.url, token, towerAfter!);
    const seenAtSites = sites.map((s, i) => nextReplicatedChange(s.url, s.api.token, siteAfter[i]!));
    // Let the long-polls reach their Berths before the change is made.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = performance.now();
    const res = await fetch(`${tower.berth.url}${LIST}/bench-${round % 3}.example.com`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ address: `bench-${round % 3}.example.com`, 'override-address': `mirror-${round}.example.com` }),
    });
    if (res.status !== 201 && res.status !== 204) throw new Error(`PUT: ${res.status} ${await res.text()}`);
    towerTimes.push((await seenAtTower) - started);
    const arrivals = (await Promise.all(seenAtSites)).map((t) => t - started);
    eachTimes.push(...arrivals);
    allTimes.push(Math.max(...arrivals));
  }
  return { tower: towerTimes, all: allTimes, each: eachTimes };
}

type Measured = { rps: number; p50: number; p99: number };

async function measure(url: string, headers: Record<string, string>, seconds = MEASURE_SECONDS): Promise<Measured> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const ms = (v: number) => v.toFixed(1).padStart(9);

async function main(): Promise<void> {
  const begun = Date.now();
  const tower = await startTower();
  const sites: RunningSite[] = [];
  try {
    for (let i = 0; i < REGISTRIES; i++) {
      const res = await tower.api.post(LIST, {
        address: `registry-${i}.example.com:5000`,
        credentials: [{ repository: '*', vault: 'kv', secret: `registries/r${i}` }],
      });
      if (res.status !== 201) throw new Error(`creating registry ${i}: ${res.status}`);
    }
    console.log(`configuration change at the tower -> applied at every site; ${ROUNDS} changes per row, loopback, one Berth process per site\n`);
    console.log(`${'sites'.padStart(5)}${'tower feed p50'.padStart(16)}${'one site p50'.padStart(14)}${'all sites p50'.padStart(15)}${'all p95'.padStart(10)}${'all max'.padStart(10)}${'ratio'.padStart(8)}`);
    for (const count of SITE_COUNTS) {
      while (sites.length < count) {
        const batch = Array.from({ length: Math.min(START_BATCH, count - sites.length) }, (_, i) => `site-${sites.length + i + 1}`);
        sites.push(...(await Promise.all(batch.map((name) => startSite(tower, name)))));
      }
      // Every site has caught up with the registries written above before timing starts.
      const target = await localRevision(tower.berth.url, tower.api.token);
      for (const site of sites) {
        for (;;) {
          const state = await getJson<{ 'replicated-revision'?: number }>(`${site.url}/v1/state/system/replication`, site.api.token);
          if ((state['replicated-revision'] ?? 0) >= target) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const { tower: towerTimes, all, each } = await propagation(tower, sites);
      const sortedAll = [...all].sort((a, b) => a - b);
      const towerP50 = percentile([...towerTimes].sort((a, b) => a - b), 50);
      const allP50 = percentile(sortedAll, 50);
      console.log(
        `${String(count).padStart(5)}${ms(towerP50).padStart(16)}${ms(percentile([...each].sort((a, b) => a - b), 50)).padStart(14)}` +
          `${ms(allP50).padStart(15)}${ms(percentile(sortedAll, 95)).padStart(10)}${ms(sortedAll.at(-1)!).padStart(10)}${(allP50 / towerP50).toFixed(1).padStart(8)}`,
      );
      if (count === SITE_COUNTS.at(-1)) {
        reportFigure({ name: `a configuration change applied at all ${count} sites, p50`, value: allP50, unit: 'ms', detail: `the tower's own change feed ${towerP50.toFixed(1)} ms` });
      }
    }
    console.log('(milliseconds from sending the PUT; ratio = all sites p50 / the tower\'s own feed p50)\n');

    const site = sites[0]!;
    const forwarded = `${tower.berth.url}${STATE}?site=${site.name}`;
    const direct = `${site.url}${STATE}`;
    const bodyBytes = Buffer.byteLength(await (await fetch(direct, { headers: { authorization: `Bearer ${site.api.token}` } })).text());
    const towerAuth = { authorization: `Bearer ${tower.api.token}` };
    const siteAuth = { authorization: `Bearer ${site.api.token}` };
    await measure(forwarded, towerAuth, WARMUP_SECONDS);
    await measure(direct, siteAuth, WARMUP_SECONDS);
    const rounds: { viaTower: Measured; atSite: Measured }[] = [];
    for (let round = 0; round < RATE_ROUNDS; round++) rounds.push({ viaTower: await measure(forwarded, towerAuth), atSite: await measure(direct, siteAuth) });
    const middle = (runs: Measured[]) => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;
    const viaTower = middle(rounds.map((r) => r.viaTower));
    const atSite = middle(rounds.map((r) => r.atSite));
    const ratio = median(rounds.map((r) => r.viaTower.rps / r.atSite.rps));
    console.log(
      `GET ${STATE} (${REGISTRIES} registries, ${(bodyBytes / 1024).toFixed(1)} KiB), autocannon ${CONNECTIONS} connections, ${RATE_ROUNDS} rounds of ${MEASURE_SECONDS} s in turn after ${WARMUP_SECONDS} s warm-up; medians; ${sites.length} sites running; load ${machineLoad()}`,
    );
    console.log(`${'path'.padEnd(28)}${'rps'.padStart(10)}${'p50/p99 ms'.padStart(14)}`);
    console.log(`${'via the tower (?site=)'.padEnd(28)}${viaTower.rps.toFixed(0).padStart(10)}${`${viaTower.p50}/${viaTower.p99}`.padStart(14)}`);
    console.log(`${'directly at the site'.padEnd(28)}${atSite.rps.toFixed(0).padStart(10)}${`${atSite.p50}/${atSite.p99}`.padStart(14)}`);
    console.log(`ratio forwarded/direct rps: ${ratio.toFixed(2)}; total ${((Date.now() - begun) / 1000).toFixed(0)} s`);
    reportFigure({
      name: '?site= forwarded GET / the same GET at the site, rps',
      value: ratio,
      unit: 'x',
      goal: { op: '>=', target: 0.7 },
      detail: `via the tower ${viaTower.rps.toFixed(0)} rps, at the site ${atSite.rps.toFixed(0)} rps`,
    });
  } finally {
    await Promise.all(sites.map((s) => s.close().catch((e: unknown) => console.error(e))));
    await tower.close();
  }
}

await main();
