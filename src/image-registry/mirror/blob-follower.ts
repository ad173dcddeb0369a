// A blob sent to a client while it arrives: the tee of pull-through. The transfer (BlobTransfers, shared with every
// client and pull that needs the blob) writes into its staging file; each client's stream reads that file behind
// it, from its own position, as the bytes land. A client never gets a whole blob whose digest does not match: a stream
// of the whole blob hashes what it sends and sends the last bytes only once they hash to the digest (it need not wait
// for the store's fsync); a range that ends with the blob waits for the transfer to have verified and published it.
// A failure after the first byte breaks the stream off (the client sees an incomplete body); before it, it is an
// error to answer.
import type { Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobProgress } from '../pull/blob-progress.js';
import { createDigestHash } from '../../image-spec/index.js';
import { DigestMismatchError, requireDigest, type BlobStore, type BlobWriter, type ByteRange, type StagedBytes } from '../../registry/index.js';

/** Read from the staging file at most this much at a time. */
const CHUNK_BYTES = 256 * 1024;
/** How long bytes short of a chunk wait for more before they are sent anyway: a stalled upstream stalls nothing here. */
const LINGER_MS = 20;

export interface FollowedBlob {
  digest: string;
  size: number;
  /** An inclusive range of it; the whole blob when absent. */
  range?: ByteRange;
  /** Settles when the transfer has published the blob, or failed for good. */
  done: Promise<void>;
}

class BlobFollower {
  private position: number;
  private readonly end: number;
  private outcome: 'running' | 'done' | 'failed' | 'stopped' = 'running';
  private failure: unknown;
  private wake: (() => void) | undefined;
  private reader: { writer: BlobWriter; bytes: StagedBytes } | undefined;
  /** A writer whose staging file could not be opened (it finished meanwhile): its event comes, not its bytes. */
  private unreadable: BlobWriter | undefined;
  private stored: AsyncIterator<Buffer> | undefined;
  private readonly unwatch: () => void;
  /** For a stream of the whole blob: the hash of what it sent so far, and the digest of it all once it is all read. */
  private readonly hash: Hash | undefined;
  private actual: string | undefined;

  constructor(
    private readonly progress: BlobProgress,
    private readonly store: BlobStore,
    private readonly blob: FollowedBlob,
  ) {
    this.position = blob.range?.start ?? 0;
    this.end = blob.range?.end ?? blob.size - 1;
    if (this.position === 0 && this.end === blob.size - 1) this.hash = createDigestHash(requireDigest(blob.digest).algorithm);
    this.unwatch = progress.watch(blob.digest, () => this.wakeUp());
    blob.done.then(
      () => this.settle('done'),
      (error: unknown) => {
        this.failure = error;
        this.settle('failed');
      },
    );
  }

  private settle(outcome: 'done' | 'failed' | 'stopped'): void {
    if (this.outcome === 'running') this.outcome = outcome;
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The next event of the blob's writers, or the transfer's end. Created with no await after the state was read. */
  private changed(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  /** As changed(), but no longer than `ms`: true when an event came, false when the time ran out. */
  private changedWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        if (this.wake === wake) this.wake = undefined;
        resolve(false);
      }, ms);
      this.wake = wake;
    });
  }

  /** The next bytes to send, or undefined at the end. */
  async next(): Promise<Buffer | undefined> {
    /** Bytes short of a chunk waited LINGER_MS and nothing more came: they go as they are. */
    let quiet = false;
    for (;;) {
      if (this.outcome === 'stopped') return undefined;
      if (this.outcome === 'failed') throw this.failure;
      if (this.position > this.end) {
        // A stream that ends with the blob ends only once it is verified (a zero-byte blob included).
        if (this.hash) {
          this.verify();
          return undefined;
        }
        if (this.end === this.blob.size - 1 && this.outcome !== 'done') {
          await this.changed();
          continue;
        }
        return undefined;
      }
      if (this.outcome === 'done') return this.fromPublished();
      // After every await the state is read again (the loop), so no event is missed while waiting.
      const writer = this.progress.writerOf(this.blob.digest);
      if (this.reader && this.reader.writer !== writer) {
        await this.closeReader();
        continue;
      }
      if (writer && !this.reader && writer !== this.unreadable) {
        try {
          this.reader = { writer, bytes: await writer.openReader() };
        } catch {
          this.unreadable = writer;
        }
        continue;
      }
      // Never the blob's last byte unverified: hashed here for the whole blob, else once the transfer verified it.
      const readable = this.reader ? Math.min(this.reader.writer.offset, this.hash ? this.blob.size : this.blob.size - 1, this.end + 1) : 0;
      // Bytes land a network packet at a time: past the first bytes, reads wait for a chunk's worth (or the end of
      // what the writer will write, or LINGER_MS without more), so a client keeping up costs a read per chunk, not
      // one per packet, and a client of a slow or stalled upstream still gets every byte that is in.
      const wanted = this.position === (this.blob.range?.start ?? 0) ? 1 : Math.min(CHUNK_BYTES, this.end + 1 - this.position);
      const writerDone = this.reader !== undefined && this.reader.writer.offset >= this.blob.size;
      const some = this.reader !== undefined && this.position < readable;
      if (this.reader && some && (readable - this.position >= wanted || writerDone || quiet)) {
        const chunk = await this.reader.bytes.read(this.position, Math.min(CHUNK_BYTES, readable - this.position));
        if (chunk.length > 0) return this.sent(chunk);
      }
      if (some) quiet = !(await this.changedWithin(LINGER_MS));
      else await this.changed();
    }
  }

  /** After the blob is published: the rest from the staging file still open (it is the blob now), else the store. */
  private async fromPublished(): Promise<Buffer | undefined> {
    let chunk: Buffer | undefined;
    if (this.reader) {
      chunk = await this.reader.bytes.read(this.position, Math.min(CHUNK_BYTES, this.end + 1 - this.position));
    } else {
      this.stored ??= (await this.store.createReadStream(this.blob.digest, { start: this.position, end: this.end }))[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const next = await this.stored.next();
      chunk = next.done ? undefined : next.value;
    }
    if (!chunk || chunk.length === 0) throw new Error(`blob ${this.blob.digest} ended at byte ${this.position} of ${this.blob.size}`);
    return this.sent(chunk);
  }

  /** `chunk` is the next to send; the one that completes a whole blob only when everything hashes to its digest. */
  private sent(chunk: Buffer): Buffer {
    this.hash?.update(chunk);
    this.position += chunk.length;
    if (this.hash && this.position > this.end) this.verify();
    return chunk;
  }

  private verify(): void {
    if (!this.hash) return;
    this.actual ??= `${requireDigest(this.blob.digest).algorithm}:${this.hash.digest('hex')}`;
    if (this.actual !== this.blob.digest) throw new DigestMismatchError(this.blob.digest, this.actual);
  }

  private async closeReader(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    await reader?.bytes.close().catch(() => {});
  }

  stop(): void {
    this.settle('stopped');
    this.unwatch();
    void this.closeReader();
    void this.stored?.return?.();
  }
}

/**
 * The blob's bytes as they arrive, as a stream. Resolves once the first bytes are in hand (or, for an empty range,
 * once the blob is complete); rejects when the transfer fails before that. `closed` runs once when the stream ends
 * or is destroyed (the client went away).
 */
export async function followBlob(progress: BlobProgress, store: BlobStore, blob: FollowedBlob, closed: () => void): Promise<Readable> {
  const follower = new BlobFollower(progress, store, blob);
  let first: Buffer | undefined;
  try {
    first = await follower.next();
  } catch (error) {
    follower.stop();
    closed();
    throw error;
  }
  let pending: Buffer | undefined = first;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    follower.stop();
    closed();
  };
  return new Readable({
    highWaterMark: CHUNK_BYTES,
    read() {
      const take = pending !== undefined ? Promise.resolve(pending) : follower.next();
      pending = undefined;
      take.then(
        (chunk) => {
          if (chunk === undefined) {
            this.push(null);
            end();
          } else this.push(chunk);
        },
        (error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))),
      );
    },
    destroy(error, callback) {
      end();
      callback(error);
    },
  });
}
