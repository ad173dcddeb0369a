// The control tower's change feed of the replicated configuration: pages of committed changes after a revision,
// long-polled when nothing is new, and a snapshot to start from. Sites follow it; it knows nothing of HTTP.
// A site reading it (`reader`) also gets its own entry of the sites list, reduced to its name and labels.
// Built for thousands of readers waiting at once: one store watch wakes only the readers a commit concerns (every
// reader for the replicated tree, one reader for its own entry; for anything else, all of them once a while later,
// so their revision moves on without an answer per write), and readers woken together share one scan of the store.
import type { ConfigStore, StoreChange, StoredValue } from '../store/config-store.js';
import { isReplicated, ownSiteView, REPLICATED_PREFIXES, siteEntryKey } from './replicated-keys.js';

export interface FeedPage {
  /** The revision a reader has once it applied `changes` (changes to other keys in between are skipped over). */
  revision: number;
  /** The store's revision when the page was read. */
  currentRevision: number;
  changes: StoreChange[];
}

export interface FeedSnapshot {
  /** Replaying the feed from here onto `entries` gives the current configuration. */
  revision: number;
  entries: { key: string; value: StoredValue }[];
}

export interface ReadOptions {
  limit: number;
  /** How long to wait for a change when nothing is newer than `after`. */
  waitMs: number;
  /** Ends the wait early (the reader went away). */
  signal?: AbortSignal;
  /** The site reading, when a site reads: its own entry of the sites list is part of its feed. */
  reader?: string | undefined;
}

/** Values in one page stop growing it past this many bytes (at least one change is always in). */
const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/**
 * A commit that concerns no reader (a token, another site's entry) wakes the waiting readers this much later, once
 * for all such commits in between: their revision moves on (and their lag shows 0) without one answer per reader
 * per write, which with thousands of readers would cost more than the writes themselves.
 */
export const UNRELATED_WAKE_MS = 2_000;

interface Waiter {
  after: number;
  reader: string | undefined;
  wake: () => void;
}

/** Whether `change` belongs in the feed of `reader` (a site's name, or undefined for any other reader). */
const concerns = (change: StoreChange, reader: string | undefined): boolean =>
  isReplicated(change.key) || (reader !== undefined && change.key === siteEntryKey(reader));

/** A change as `reader` gets it: its own site entry reduced to name and labels. */
function asSent(change: StoreChange): StoreChange {
  if (isReplicated(change.key) || change.value === undefined) return change;
  const view = ownSiteView(change.value);
  return view ? { ...change, value: view } : { revision: change.revision, key: change.key, type: 'delete', at: change.at };
}

export class ChangeFeed {
  /** The newest revision this feed has seen committed. */
  private latest = 0;
  private readonly waiters = new Set<Waiter>();
  private unrelatedWake: NodeJS.Timeout | undefined;
  /** Store scans by `after` and `limit` at the revision they were made: readers woken together share one. */
  private scans = new Map<string, Promise<StoreChange[]>>();
  private scansRevision = -1;
  private isDraining = false;
  private readonly subscribed: Promise<() => void>;

  constructor(private readonly store: ConfigStore) {
    // One store watch for every long-poll: each commit wakes the waiters it concerns.
    this.subscribed = store.revision().then((from) => {
      this.latest = Math.max(this.latest, from);
      return store.watch(from, (change) => this.committed(change));
    });
    // A failed subscription shows up when a reader awaits it; do not let it go unhandled meanwhile.
    this.subscribed.catch(() => {});
  }

  private committed(change: StoreChange): void {
    this.latest = Math.max(this.latest, change.revision);
    if (isReplicated(change.key)) return this.wake(() => true);
    const site = change.key.startsWith(siteEntryKey('')) ? change.key.slice(siteEntryKey('').length) : undefined;
    if (site !== undefined) this.wake((waiter) => waiter.reader === site);
    this.unrelatedWake ??= setTimeout(() => {
      this.unrelatedWake = undefined;
      this.wake(() => true);
    }, UNRELATED_WAKE_MS).unref();
  }

  private wake(concerned: (waiter: Waiter) => boolean): void {
    for (const waiter of this.waiters) if (this.latest > waiter.after && concerned(waiter)) waiter.wake();
  }

  /** Resolves once a revision above `after` that concerns `reader` is committed, after `ms`, on abort, or when draining. */
  private waitForChange(after: number, reader: string | undefined, ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.isDraining || ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        after,
        reader,
        wake: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.wake);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, ms);
      signal?.addEventListener('abort', waiter.wake, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** The store's changes after `after`, one scan for every reader asking the same at the same revision. */
  private scan(after: number, limit: number, currentRevision: number): Promise<StoreChange[]> {
    if (this.scansRevision !== currentRevision) {
      this.scans = new Map();
      this.scansRevision = currentRevision;
    }
    const key = `${after}:${limit}`;
    let scan = this.scans.get(key);
    if (!scan) {
      scan = this.store.changesSince(after, limit);
      this.scans.set(key, scan);
      // A failed scan is not kept: the next reader tries again.
      scan.catch(() => this.scans.delete(key));
    }
    return scan;
  }

  /** The page after `after` for `options.reader`, scanned at the store's current revision. */
  private async page(after: number, reader: string | undefined, limit: number): Promise<FeedPage> {
    const currentRevision = await this.store.revision();
    this.latest = Math.max(this.latest, currentRevision);
    const scanned = after < currentRevision ? await this.scan(after, limit, currentRevision) : [];
    // A page stops after MAX_PAGE_BYTES of values (ca-certs can be large); the reader asks again from `revision`.
    let revision = after;
    let bytes = 0;
    const changes: StoreChange[] = [];
    for (const change of scanned) {
      if (concerns(change, reader)) {
        if (changes.length > 0 && bytes >= MAX_PAGE_BYTES) break;
        const sent = asSent(change);
        bytes += sent.value === undefined ? 0 : JSON.stringify(sent.value).length;
        changes.push(sent);
      }
      revision = change.revision;
    }
    return { revision, currentRevision: Math.max(currentRevision, scanned.at(-1)?.revision ?? 0), changes };
  }

  async read(after: number, options: ReadOptions): Promise<FeedPage> {
    await this.subscribed;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      const page = await this.page(after, options.reader, options.limit);
      // Only a reader that is exactly up to date waits: one ahead of the store (a tower restored from an older
      // copy) gets its answer at once and sees `current-revision` below its own.
      if (page.revision !== after || after !== page.currentRevision) return page;
      // A commit landed while the store was read: read again rather than wait for the next one.
      if (this.latest > after && attempt === 1) continue;
      const remaining = options.waitMs - (Date.now() - started);
      if (remaining <= 0 || this.isDraining || options.signal?.aborted) return page;
      await this.waitForChange(after, options.reader, remaining, options.signal);
      return this.page(after, options.reader, options.limit);
    }
  }

  async snapshot(reader?: string): Promise<FeedSnapshot> {
    // The revision is read first: the lists may then hold later writes too, which replaying the feed from this
    // revision writes again; a put or delete applied twice by key leaves the same configuration.
    const revision = await this.store.revision();
    const lists = await Promise.all(REPLICATED_PREFIXES.map((prefix) => this.store.list(prefix)));
    const entries = lists.flat().map((entry) => ({ key: entry.key, value: entry.value }));
    const own = reader === undefined ? undefined : await this.store.get(siteEntryKey(reader));
    const view = own && ownSiteView(own.value);
    if (view) entries.push({ key: own.key, value: view });
    return { revision, entries };
  }

  /** Whether the server is shutting down (streams end). */
  get draining(): boolean {
    return this.isDraining;
  }

  /** Answers every waiting reader now, and every later one at once: the server is shutting down. */
  drain(): void {
    this.isDraining = true;
    clearTimeout(this.unrelatedWake);
    for (const waiter of this.waiters) waiter.wake();
  }

  async close(): Promise<void> {
    this.drain();
    const unsubscribe = await this.subscribed.catch(() => undefined);
    unsubscribe?.();
  }
}
