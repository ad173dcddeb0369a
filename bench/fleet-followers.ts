// Simulated sites for bench/fleet.bench.ts, many in one process: each follows the tower as a Berth site does (the
// snapshot, then the change feed streamed with its own `site` token, on a connection of its own, backing off as Berth
// sites do) and reports its desired images (selected with Berth's own selector, pulls that succeed at
// once). Not a Berth: no store, no registry, only the protocol. The process also serves the sites' API for fan-outs
// (verify-credentials answers success) on one port, each site under its own path prefix (`/sim/<name>`). Driven over
// IPC by the bench (fork).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { matches, parseSelector, type Labels } from '../src/sites/selector.js';
import { configDigest, formatTarget, SITE_IMAGES_PREFIX, targetOf, type SiteImages } from '../src/sites/site-images.js';

interface SimulatedSite {
  name: string;
  token: string;
}

type Command =
  | { type: 'listen'; port: number }
  | { type: 'start'; towerUrl: string; sites: SimulatedSite[]; waitSeconds: number; perSecond: number }
  | { type: 'status' }
  | { type: 'arrivals'; revision: number }
  | { type: 'stop' };

const send = (message: unknown) => process.send!(message);
const now = () => performance.timeOrigin + performance.now();

interface Change {
  revision: number;
  key: string;
  type: 'put' | 'delete';
  value?: unknown;
}

/** As Berth sites do: 250 ms after a first failure, doubling to 5 s, jittered. */
const retryDelay = (failures: number) => Math.min(5_000, 250 * 2 ** (failures - 1)) * (0.5 + Math.random());

/** One simulated site following the tower. */
class Follower {
  revision = 0;
  /** The desired-images entries as replicated, and this site's own labels. */
  private readonly entries = new Map<string, SiteImages>();
  private labels: Labels | undefined;
  private lastReport = '';
  /** Pages that brought changes: [newest change revision, epoch ms of arrival]. */
  readonly arrivals: [number, number][] = [];
  following = false;
  reports = 0;
  errors = 0;
  lastError = '';
  private stopped = false;
  private readonly client: Client;
  private readonly origin: string;
  private readonly basePath: string;

  constructor(
    readonly site: SimulatedSite,
    towerUrl: string,
    private readonly waitSeconds: number,
  ) {
    const url = new URL(towerUrl);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.client = new Client(url.origin, { headersTimeout: (waitSeconds + 30) * 1000, bodyTimeout: (waitSeconds + 30) * 1000, keepAliveTimeout: 60_000 });
  }

  /**
   * A request beside the stream. The stream holds this follower's connection, so a report goes on a connection of its
   * own, closed after it (Berth sites keep a second pooled one; 10,000 idle extra connections would only cost the
   * tower file descriptors here).
   */
  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown>> {
    const client = method === 'GET' ? this.client : new Client(this.origin);
    try {
      return await this.send(client, method, path, body);
    } finally {
      if (client !== this.client) await client.close().catch(() => {});
    }
  }

  private async send(client: Client, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown>> {
    const response = await client.request({
      method,
      path: `${this.basePath}${path}`,
      headers: { authorization: `Bearer ${this.site.token}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200 && response.statusCode !== 204) throw new Error(`${method} ${path.split('?')[0]}: ${response.statusCode} ${text.slice(0, 200)}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }

  private apply(change: Change): void {
    if (change.key.startsWith(SITE_IMAGES_PREFIX)) {
      if (change.type === 'put') this.entries.set(change.key, change.value as SiteImages);
      else this.entries.delete(change.key);
    } else if (change.key === `config/sites/${this.site.name}`) {
      this.labels = change.type === 'put' ? (change.value as { labels?: Labels }).labels : undefined;
    }
  }

  /**
   * The report protocol as a site speaks it, with pulls that succeed at once: every entry that selects this site,
   * the digest of its configuration, each image ready. Sent when it changes and when the tower wants one.
   */
  private async report(wanted: boolean): Promise<void> {
    const site = { name: this.site.name, labels: this.labels };
    const updated = new Date().toISOString();
    const selected = [...this.entries.values()].filter((entry) => matches(parseSelector(entry.sites), site));
    const report = {
      'site-images': selected.map((entry) => ({
        name: entry.name,
        'config-digest': configDigest(entry),
        images: entry.images.map((image) => ({ image: image.image, target: formatTarget(targetOf(image)), state: 'ready', attempts: 0, updated })),
      })),
    };
    const content = JSON.stringify(report['site-images'].map((e) => [e.name, e['config-digest']]));
    if (!wanted && content === this.lastReport) return;
    await this.call('POST', `/v1/state/system/site-report?site-name=${this.site.name}`, report);
    this.lastReport = content;
    this.reports++;
  }

  async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.following) {
          const snapshot = await this.call('GET', `/v1/state/system/snapshot?site-name=${this.site.name}`);
          this.entries.clear();
          this.labels = undefined;
          for (const entry of snapshot.entries as Change[]) this.apply({ ...entry, type: 'put' });
          this.revision = snapshot.revision as number;
          // A snapshot brings every change up to its revision (a site that had to start over got them this way).
          this.arrivals.push([this.revision, now()]);
          this.following = true;
          if (snapshot['report-wanted'] === true) await this.report(true);
        }
        // The feed as Berth sites follow it: one stream, a page a line.
        const response = await this.client.request({
          method: 'GET',
          path: `${this.basePath}/v1/state/system/changes?after=${this.revision}&wait=${this.waitSeconds}&site-name=${this.site.name}`,
          headers: { authorization: `Bearer ${this.site.token}`, accept: 'application/x-ndjson' },
        });
        if (response.statusCode !== 200) throw new Error(`GET /v1/state/system/changes: ${response.statusCode} ${(await response.body.text()).slice(0, 200)}`);
        let pending = '';
        for await (const chunk of response.body) {
          pending += (chunk as Buffer).toString('utf8');
          for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n')) {
            const page = JSON.parse(pending.slice(0, end)) as { revision: number; changes: Change[]; 'report-wanted'?: boolean };
            pending = pending.slice(end + 1);
            if (page.changes.length > 0) this.arrivals.push([page.changes.at(-1)!.revision, now()]);
            for (const change of page.changes) this.apply(change);
            this.revision = page.revision;
            await this.report(page['report-wanted'] === true);
            failures = 0;
          }
        }
      } catch (e) {
        if (this.stopped) return;
        this.errors++;
        failures++;
        this.lastError = (e as Error).message;
        this.following = false;
        await new Promise((resolve) => setTimeout(resolve, retryDelay(failures)));
      }
    }
  }

  /** When the first page holding `revision` (or a later one) arrived. */
  arrivalOf(revision: number): number | null {
    return this.arrivals.find(([newest]) => newest >= revision)?.[1] ?? null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client.destroy().catch(() => {});
  }
}

let followers: Follower[] = [];

/** The simulated sites' API: verify-credentials succeeds at every site; anything else is 404. */
const siteApi = createServer((req, res) => {
  const ok = req.method === 'POST' && /^\/sim\/[a-z0-9-]+\/v1\/state\/image-registry\/remote-registries\/[^/]+\/verify-credentials$/.test(req.url ?? '');
  req.resume();
  req.on('end', () => {
    const body = ok && req.headers.authorization?.startsWith('Bearer ') ? '{"success":true}' : '{"errors":[{"error-message":"not simulated"}]}';
    res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});

process.on('message', (command: Command) => {
  switch (command.type) {
    case 'listen':
      siteApi.listen(command.port, '127.0.0.1', () => send({ type: 'listening', apiPort: (siteApi.address() as AddressInfo).port }));
      break;
    case 'start': {
      followers = command.sites.map((site) => new Follower(site, command.towerUrl, command.waitSeconds));
      // Sites come up over time, as a fleet does, not in one instant (bench/fleet.bench.ts times the ramp).
      const started = Date.now();
      followers.forEach((follower, i) => setTimeout(() => void follower.run(), (i / command.perSecond) * 1000 - (Date.now() - started)));
      send({ type: 'started' });
      break;
    }
    case 'status': {
      const following = followers.filter((f) => f.following).length;
      const errors = followers.reduce((n, f) => n + f.errors, 0);
      const reports = followers.reduce((n, f) => n + f.reports, 0);
      send({ type: 'status', following, errors, reports, lastError: followers.find((f) => f.lastError)?.lastError ?? '' });
      break;
    }
    case 'arrivals':
      send({ type: 'arrivals', times: followers.map((f) => f.arrivalOf(command.revision)) });
      break;
    case 'stop':
      void Promise.all(followers.map((f) => f.stop())).then(() => {
        siteApi.close();
        process.exit(0);
      });
      break;
  }
});
