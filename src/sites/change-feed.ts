// The control tower's change feed of the replicated configuration: pages of committed changes after a revision,
// long-polled when nothing is new, and a snapshot to start from. Sites follow it; it knows nothing of HTTP.
import type { ConfigStore, StoreChange, StoredValue } from '../store/config-store.js';
import { isReplicated, REPLICATED_PREFIXES } from './replicated-keys.js';

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
}

/** Values in one page stop growing it past this many bytes (at least one change is always in). */
const MAX_PAGE_BYTES = 4 * 1024 * 1024;

interface Waiter {
  after: number;
  wake: () => void;
}

export class ChangeFeed {
  /** The newest revision this feed has seen committed. */
  private latest = 0;
  private readonly waiters = new Set<Waiter>();
  private draining = false;
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
    for (const waiter of this.waiters) if (this.latest > waiter.after) waiter.wake();
  }

  /** Resolves once a revision above `after` is committed, after `ms`, on abort, or when draining. */
  private waitForChange(after: number, ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.latest > after || this.draining || ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        after,
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

  async read(after: number, options: ReadOptions): Promise<FeedPage> {
    await this.subscribed;
    let currentRevision = await this.store.revision();
    this.latest = Math.max(this.latest, currentRevision);
    // Only a reader that is exactly up to date waits: one ahead of the store (a tower restored from an older
    // copy) gets its answer at once and sees `current-revision` below its own.
    if (after === currentRevision) {
      await this.waitForChange(after, options.waitMs, options.signal);
      currentRevision = await this.store.revision();
    }
    const scanned = after < currentRevision ? await this.store.changesSince(after, options.limit) : [];
    // A page stops after MAX_PAGE_BYTES of values (ca-certs can be large); the reader asks again from `revision`.
    let revision = after;
    let bytes = 0;
    const changes: StoreChange[] = [];
    for (const change of scanned) {
      if (isReplicated(change.key)) {
        if (changes.length > 0 && bytes >= MAX_PAGE_BYTES) break;
        bytes += change.value === undefined ? 0 : JSON.stringify(change.value).length;
        changes.push(change);
      }
      revision = change.revision;
    }
    return { revision, currentRevision: Math.max(currentRevision, scanned.at(-1)?.revision ?? 0), changes };
  }

  async snapshot(): Promise<FeedSnapshot> {
    // The revision is read first: the lists may then hold later writes too, which replaying the feed from this
    // revision writes again; a put or delete applied twice by key leaves the same configuration.
    const revision = await this.store.revision();
    const lists = await Promise.all(REPLICATED_PREFIXES.map((prefix) => this.store.list(prefix)));
    return { revision, entries: lists.flat().map((entry) => ({ key: entry.key, value: entry.value })) };
  }

  /** Answers every waiting reader now, and every later one at once: the server is shutting down. */
  drain(): void {
    this.draining = true;
    for (const waiter of this.waiters) waiter.wake();
  }

  async close(): Promise<void> {
    this.drain();
    const unsubscribe = await this.subscribed.catch(() => undefined);
    unsubscribe?.();
  }
}
