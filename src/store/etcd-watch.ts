// A resumable etcd watch over one key range: delivers every revision from a start revision once, whole, in order,
// and when its stream breaks (a member killed, a leader change) opens a new one on any endpoint from the next revision.
import type { Etcd3, IDuplexStream, IEvent, IWatchRequest, IWatchResponse } from 'etcd3';

/** All the events of one etcd revision in the watched range (one transaction), in the order it wrote them. */
export interface RevisionEvents {
  revision: number;
  events: IEvent[];
}

export interface RangeWatchOptions {
  client: Etcd3;
  key: Buffer;
  rangeEnd: Buffer;
  /** The first revision to deliver. */
  startRevision: number;
  onRevision(revision: RevisionEvents): void;
  /**
   * etcd no longer keeps revision `next`, compacted up to `compactRevision`: resolves with the revision to continue
   * from when nothing of interest was lost, and rejects (ending the watch through `onFailure`) when something was.
   */
  onCompacted(next: number, compactRevision: number): Promise<number>;
  /** The watch has ended for good (it delivers nothing more). */
  onFailure(error: Error): void;
  /**
   * etcd refused the watch: with auth on, most likely because the client's token expired or the member forgot it on a
   * restart (etcd's simple tokens live in memory). Refresh it, then the watch tries again.
   */
  onPermissionDenied?(): Promise<void>;
  /** A stream broke and another is being opened; for the log. */
  onInterrupted?(error: Error, nextRevision: number): void;
}

type StreamEnd =
  | { kind: 'closed' }
  | { kind: 'broken'; error: Error }
  | { kind: 'compacted'; compactRevision: number }
  | { kind: 'denied'; error: Error };

/** How etcd refuses a watch for its credentials: an expired or forgotten token, or a missing permission. */
const AUTH_REFUSED = /invalid auth token|permission denied/;
const FIRST_RETRY_MS = 50;
const LONGEST_RETRY_MS = 2_000;

export class RangeWatch {
  /** The next revision to deliver: one more than the last revision delivered, so a resumed stream neither repeats nor skips. */
  private next: number;
  private closed = false;
  private endCurrent: ((end: StreamEnd) => void) | undefined;
  private readonly stopWaiting = new AbortController();

  constructor(private readonly options: RangeWatchOptions) {
    this.next = options.startRevision;
  }

  start(): void {
    void this.run();
  }

  close(): void {
    this.closed = true;
    this.stopWaiting.abort();
    this.endCurrent?.({ kind: 'closed' });
  }

  private async run(): Promise<void> {
    let retryMs = FIRST_RETRY_MS;
    while (!this.closed) {
      const end = await this.follow(() => (retryMs = FIRST_RETRY_MS));
      if (end.kind === 'closed' || this.closed) return;
      if (end.kind === 'denied') await this.options.onPermissionDenied?.().catch(() => undefined);
      if (end.kind === 'compacted') {
        try {
          this.next = await this.options.onCompacted(this.next, end.compactRevision);
        } catch (error) {
          return this.fail(error as Error);
        }
        continue;
      }
      this.options.onInterrupted?.(end.error, this.next);
      // Jittered, growing pauses: every replica reconnecting at once must not hammer the surviving members.
      await pause(retryMs * (0.5 + Math.random()), this.stopWaiting.signal);
      retryMs = Math.min(retryMs * 2, LONGEST_RETRY_MS);
    }
  }

  private fail(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.options.onFailure(error);
  }

  /** One stream, from `next` on, until it breaks or the watch is closed. */
  private async follow(onCreated: () => void): Promise<StreamEnd> {
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>;
    try {
      // The connection pool picks an endpoint at random, so after a broken stream the next try may well be another member.
      stream = await this.options.client.watchClient.watch();
    } catch (error) {
      return { kind: 'broken', error: error as Error };
    }
    return new Promise<StreamEnd>((resolve) => {
      let ended = false;
      const end = (why: StreamEnd) => {
        if (ended) return;
        ended = true;
        this.endCurrent = undefined;
        stream.cancel();
        resolve(why);
      };
      this.endCurrent = end;
      if (this.closed) return end({ kind: 'closed' });
      stream.on('data', (response) => {
        if (ended) return;
        if (response.compact_revision && response.compact_revision !== '0') {
          return end({ kind: 'compacted', compactRevision: Number(response.compact_revision) });
        }
        if (response.canceled) {
          const error = new Error(`etcd cancelled the watch: ${response.cancel_reason || 'no reason given'}`);
          return end(AUTH_REFUSED.test(response.cancel_reason) ? { kind: 'denied', error } : { kind: 'broken', error });
        }
        if (response.created) onCreated();
        this.deliver(response.events);
      });
      stream.on('error', (error) => end(AUTH_REFUSED.test(error.message) ? { kind: 'denied', error } : { kind: 'broken', error }));
      stream.on('end', () => end({ kind: 'broken', error: new Error('the etcd watch stream ended') }));
      stream.write({
        create_request: { key: this.options.key, range_end: this.options.rangeEnd, start_revision: this.next, progress_notify: true },
      });
    });
  }

  /** etcd never splits one revision's events across responses (without `fragment`), so each group here is whole. */
  private deliver(events: IEvent[]): void {
    let group: RevisionEvents | undefined;
    const flush = () => {
      if (!group || this.closed) return;
      this.next = group.revision + 1;
      this.options.onRevision(group);
    };
    for (const event of events) {
      const revision = Number(event.kv.mod_revision);
      // A resumed stream starts at `next`, but a response in flight on the old one may still have been in the queue.
      if (revision < this.next) continue;
      if (group && group.revision !== revision) {
        flush();
        group = undefined;
      }
      group ??= { revision, events: [] };
      group.events.push(event);
    }
    flush();
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const wake = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', wake);
      resolve();
    }, ms);
    signal.addEventListener('abort', wake, { once: true });
  });
}
