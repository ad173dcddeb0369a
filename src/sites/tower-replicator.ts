// At a site: follows the control tower's change feed from the last tower revision applied, applies each change to
// this Berth's own store in order, and writes the revision after applying (so a crash at any point re-applies
// changes, which is harmless: a put or delete by key gives the same result twice). Starts from the tower's
// snapshot when it has no revision yet or the tower is behind it. Retries with backoff while the tower is away.
import type { Logger } from 'pino';
import { isBerthError } from '../errors.js';
import type { ConfigStore, StoreChange, StoredValue, WriteContext } from '../store/config-store.js';
import { isReplicated, OWN_SITE_KEY, REPLICATED_PREFIXES, siteEntryKey, TOWER_REVISION_KEY } from './replicated-keys.js';
import { TowerAnswerError, type TowerClient } from './tower-client.js';

export interface ReplicationStatus {
  /** Whether the last call to the tower succeeded. */
  connected: boolean;
  lastContact?: Date;
  /** The tower revision this site's configuration is at; undefined before its first snapshot. */
  replicatedRevision: number | undefined;
  /** The newest tower revision seen. */
  towerRevision: number | undefined;
  lastError?: string;
}

export interface ReplicatorOptions {
  /** Seconds the tower may hold a feed request open when nothing is new. */
  waitSeconds: number;
  /** Pause after the first failure; doubled per further failure up to retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
}

export const DEFAULT_REPLICATOR_OPTIONS: ReplicatorOptions = { waitSeconds: 25, retryMinMs: 250, retryMaxMs: 5_000 };

interface DurableRevision {
  revision: number;
  at: string;
}

const sameValue = (a: StoredValue, b: StoredValue) => JSON.stringify(a) === JSON.stringify(b);

/**
 * What this site records as the author of what it copies from the tower (the tower's own record says who there): in
 * its audit trail these writes are by `tower`.
 */
const REPLICATION: WriteContext = { author: { kind: 'system', name: 'tower' } };

export class TowerReplicator {
  private revision: number | undefined;
  private readonly status: ReplicationStatus = { connected: false, replicatedRevision: undefined, towerRevision: undefined };
  private stopped = false;
  private readonly abort = new AbortController();
  private loaded: Promise<void> | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly store: ConfigStore,
    private readonly tower: TowerClient,
    private readonly logger: Logger,
    private readonly options: ReplicatorOptions = DEFAULT_REPLICATOR_OPTIONS,
    /** Called when the tower's feed says it holds no report from this site. */
    private readonly reportWanted: () => void = () => {},
  ) {}

  /** Starts following the tower in the background; Berth serves from its own store meanwhile and after. */
  start(): void {
    this.loaded ??= this.readRevision().then((revision) => {
      this.revision = revision;
      this.status.replicatedRevision = revision;
    });
    this.loop ??= this.loaded.then(() => this.run());
  }

  async state(): Promise<ReplicationStatus> {
    await this.loaded?.catch(() => {});
    return { ...this.status };
  }

  private async readRevision(): Promise<number | undefined> {
    const entry = await this.store.get(TOWER_REVISION_KEY);
    const revision = (entry?.value as DurableRevision | undefined)?.revision;
    return typeof revision === 'number' ? revision : undefined;
  }

  private async writeRevision(revision: number): Promise<void> {
    const value: DurableRevision = { revision, at: new Date().toISOString() };
    await this.store.put(TOWER_REVISION_KEY, value);
    this.revision = revision;
    this.status.replicatedRevision = revision;
  }

  private contact(towerRevision: number): void {
    if (!this.status.connected) this.logger.info({ tower: this.tower.url, towerRevision }, 'following the control tower');
    this.status.connected = true;
    this.status.lastContact = new Date();
    this.status.towerRevision = towerRevision;
    delete this.status.lastError;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.step();
        failures = 0;
      } catch (e) {
        if (this.stopped) break;
        failures++;
        const message = e instanceof Error ? e.message : String(e);
        // One warning when the tower goes away, not one per retry.
        if (this.status.connected || failures === 1) this.logger.warn({ tower: this.tower.url, error: message }, 'cannot follow the control tower; serving from this site\'s own configuration');
        this.status.connected = false;
        this.status.lastError = message;
        // Jittered: after a tower restart, thousands of sites must not come back in the same instant.
        await this.pause(Math.min(this.options.retryMaxMs, this.options.retryMinMs * 2 ** (failures - 1)) * (0.5 + Math.random()));
      }
    }
  }

  private pause(ms: number): Promise<void> {
    const signal = this.abort.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Follows the feed's stream until the tower ends it; each page is applied before the next is read. */
  private async step(): Promise<void> {
    if (this.revision === undefined) return this.resync('this site has no tower revision yet');
    let behind: number | undefined;
    const following = new AbortController();
    const stop = () => following.abort();
    this.abort.signal.addEventListener('abort', stop, { once: true });
    try {
      await this.tower.follow(this.revision, this.options.waitSeconds, async (page) => {
        this.contact(page['current-revision']);
        if (page['current-revision'] < this.revision!) {
          behind = page['current-revision'];
          return following.abort();
        }
        for (const change of page.changes) await this.apply(change);
        if (page.revision !== this.revision) await this.writeRevision(page.revision);
        if (page['report-wanted']) this.reportWanted();
      }, following.signal);
    } catch (e) {
      if (behind === undefined) throw e;
    } finally {
      this.abort.signal.removeEventListener('abort', stop);
    }
    if (behind !== undefined) return this.resync(`the tower is at revision ${behind}, below this site's ${this.revision}`);
  }

  /** Where a key the tower sends is kept here: replicated keys as they are, this site's own entry apart; else nowhere. */
  private localKey(key: string): string | undefined {
    if (isReplicated(key)) return key;
    if (key === siteEntryKey(this.tower.siteName)) return OWN_SITE_KEY;
    return undefined;
  }

  private async apply(change: StoreChange): Promise<void> {
    // The tower sends only replicated keys and this site's own entry; a site never lets its feed write anything else.
    const key = this.localKey(change.key);
    if (key === undefined) return;
    if (change.type === 'put') {
      if (change.value === undefined) throw new TowerAnswerError(`the tower sent a put of ${change.key} without a value`);
      await this.store.put(key, change.value, undefined, REPLICATION);
      return;
    }
    await this.delete(key);
  }

  private async delete(key: string): Promise<void> {
    try {
      await this.store.delete(key, undefined, REPLICATION);
    } catch (e) {
      // Already gone: a change applied before a crash and applied again now.
      if (!isBerthError(e) || e.kind !== 'not-found') throw e;
    }
  }

  /** Makes the replicated trees equal to the tower's snapshot, then follows the feed from its revision. */
  private async resync(why: string): Promise<void> {
    this.logger.info({ tower: this.tower.url, why }, 'reading the configuration snapshot of the control tower');
    const snapshot = await this.tower.snapshot(this.abort.signal);
    this.contact(snapshot.revision);
    const wanted = new Map(snapshot.entries.flatMap((e) => {
      const key = this.localKey(e.key);
      return key === undefined ? [] : [[key, e.value] as const];
    }));
    for (const prefix of [...REPLICATED_PREFIXES, OWN_SITE_KEY]) {
      for (const entry of await this.store.list(prefix)) {
        if (!wanted.has(entry.key)) await this.delete(entry.key);
      }
    }
    for (const [key, value] of wanted) {
      const current = await this.store.get(key);
      // Unchanged entries keep their local revision (their ETag at this site).
      if (!current || !sameValue(current.value, value)) await this.store.put(key, value, undefined, REPLICATION);
    }
    await this.writeRevision(snapshot.revision);
    if (snapshot['report-wanted']) this.reportWanted();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop?.catch(() => {});
    await this.tower.close();
  }
}
