// One staging file of the filesystem blob store (filesystem-blob-store.ts): bytes appended as they arrive (a fast
// source in few large writes), hashed while they stream and flushed to the disk behind them (write-behind.ts), then
// fsync'd and published by the store, or discarded.

import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { finished, Readable } from 'node:stream';
import type { Hash } from 'node:crypto';
import { createDigestHash, type DigestAlgorithm } from '../../image-spec/index.js';
import { requireDigest, type RegistryDigest } from '../digest.js';
import { DigestMismatchError, RegistryError, SizeMismatchError } from '../registry-error.js';
import { SizeOutOfBoundsError, UploadBusyError, UploadClosedError } from './storage-errors.js';
import type { ConsumedBuffers } from './consumed-buffers.js';
import type { FlushedBehind, WriteBehind } from './write-behind.js';
import type { BlobInfo, BlobWriter, ByteSource, CommitOptions, StagedBytes, WriteFromOptions } from './blob-store.js';

/**
 * A stream's chunks are 16-64 KiB; written one by one, a 1 GB blob is ~20,000 writes, and the event loop's cost per
 * write outweighs the copy. While one write is on its way to the disk, writeFrom gathers the chunks that arrive and
 * writes them with one writev when it is done, up to this many bytes (then it stops reading until the write is done).
 */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** writev takes at most IOV_MAX (1024 on Linux) buffers at once. */
const WRITE_BATCH_CHUNKS = 1024;

/**
 * Appends handed over one by one, written as they come: the first at once, and those that arrive while a write is
 * under way together in the next (as a Writable's writev does). So nothing that arrived waits for more to come (an
 * upload's offset reports it promptly), and a fast source is written in few large writes. A failed write fails every
 * later add() and drain().
 */
class CoalescedAppends {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private inFlight: Promise<void> | undefined;
  private inFlightBytes = 0;
  private failure: { error: unknown } | undefined;

  constructor(private readonly write: (chunks: Uint8Array[]) => Promise<void>) {}

  /** Bytes handed over and not yet written. */
  get queuedBytes(): number {
    return this.pendingBytes + this.inFlightBytes;
  }

  private pump(): void {
    if (this.inFlight || this.failure || this.pending.length === 0) return;
    const chunks = this.pending;
    this.inFlightBytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlight = this.write(chunks).then(
      () => {
        this.inFlight = undefined;
        this.inFlightBytes = 0;
        this.pump();
      },
      (error: unknown) => {
        this.inFlight = undefined;
        this.inFlightBytes = 0;
        this.failure = { error };
      },
    );
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }

  /**
   * Hands a chunk over. Returns a promise only while a full batch is waiting for the write under way: the caller
   * stops reading until it settles. Most chunks cost no promise at all.
   */
  add(chunk: Uint8Array): Promise<void> | undefined {
    this.check();
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    this.pump();
    if (this.pendingBytes < WRITE_BATCH_BYTES && this.pending.length < WRITE_BATCH_CHUNKS) return undefined;
    return this.inFlight!.then(() => this.check());
  }

  /** Waits until everything handed over is written. */
  async drain(): Promise<void> {
    for (this.pump(); this.inFlight; this.pump()) await this.inFlight;
    this.check();
  }
}

export interface WriterContext {
  expected: RegistryDigest | undefined;
  expectedSize: number | undefined;
  publish(stagingPath: string, digest: RegistryDigest): Promise<BlobInfo>;
  done(): void;
  /** The store's flushing of files while they are written. */
  writeBehind: WriteBehind;
  /** The store's freeing of written chunks, for sources that are their writer's alone (`releaseWritten`). */
  consumedBuffers: ConsumedBuffers;
}

const uploadCancelled = () => new UploadClosedError('the upload was cancelled while this request was sending it');

/** Takes one chunk; returns a promise when the reading must wait for it to settle. */
type TakeChunk = (chunk: Uint8Array) => Promise<void> | undefined;

/**
 * Reads a stream by its 'data' events, paused while `take` waits for the disk. Async iteration costs several
 * promises and ticks per chunk, and a 1 GB blob is some 65,000 chunks: that garbage is what made a pull's memory
 * grow. Stopping early (a throw from `take`, a failed wait) leaves the stream paused, not destroyed: its owner decides.
 */
function readByEvents(source: Readable, take: TakeChunk): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const stop = (error?: unknown) => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      stopWatching();
      source.pause();
      if (error === undefined) resolve();
      else reject(error);
    };
    const onData = (chunk: Uint8Array) => {
      let waiting: Promise<void> | undefined;
      try {
        waiting = take(chunk);
      } catch (error) {
        return stop(error);
      }
      if (!waiting) return;
      source.pause();
      waiting.then(() => {
        if (!settled) source.resume();
      }, stop);
    };
    // Ends, errors and a close before the end (ERR_STREAM_PREMATURE_CLOSE), as async iteration reports them.
    const stopWatching = finished(source, { writable: false }, (error) => stop(error ?? undefined));
    source.on('data', onData);
  });
}

async function readByIteration(source: ByteSource, take: TakeChunk): Promise<void> {
  for await (const chunk of source) await take(chunk);
}

/**
 * Writes one staging file. The file is open only while an operation runs (a write, a commit): an upload session
 * waiting for its next chunk holds no file descriptor, so idle sessions cannot exhaust them.
 */
export class FilesystemBlobWriter implements BlobWriter {
  private written = 0;
  private hash: Hash;
  private state: 'open' | 'busy' | 'failed' | 'finished' = 'open';
  /** abort() arrived while an operation ran: that operation stops at its next chunk and discards the bytes. */
  private cancelled = false;
  private activity = new Date();

  constructor(
    readonly id: string,
    private readonly path: string,
    private readonly algorithm: DigestAlgorithm,
    private readonly context: WriterContext,
  ) {
    this.hash = createDigestHash(algorithm);
  }

  get offset(): number {
    return this.written;
  }

  get expectedDigest(): string | undefined {
    return this.context.expected?.digest;
  }

  get lastActivity(): Date {
    return this.activity;
  }

  get usable(): boolean {
    return (this.state === 'open' || this.state === 'busy') && !this.cancelled;
  }

  private begin(): void {
    if (this.state === 'busy') throw new UploadBusyError();
    if (this.state !== 'open' || this.cancelled) throw new UploadClosedError('upload is no longer open');
    this.state = 'busy';
  }

  /** Writes the chunks, in order, at the current offset. */
  private async append(handle: FileHandle, chunks: Uint8Array[]): Promise<void> {
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.byteLength;
    // One writev for the batch; what a short one leaves (a file system may take less) goes in plain writes.
    let done = chunks.length === 1 ? 0 : (await handle.writev(chunks, this.written)).bytesWritten;
    let chunkStart = 0;
    for (const chunk of chunks) {
      for (let at = Math.max(0, done - chunkStart); at < chunk.byteLength; ) {
        const { bytesWritten } = await handle.write(chunk, at, chunk.byteLength - at, this.written + done);
        at += bytesWritten;
        done += bytesWritten;
      }
      chunkStart += chunk.byteLength;
    }
    // Hash only what reached the file, so `offset` and the hash state always agree and a resume is exact.
    for (const chunk of chunks) this.hash.update(chunk);
    this.written += bytes;
    this.activity = new Date();
  }

  /** A failed flush is the disk failing as a failed write is: the bytes are discarded. */
  private async settleOrFail(flushing: FlushedBehind): Promise<void> {
    try {
      await flushing.settle();
    } catch (e) {
      this.state = 'failed';
      throw e;
    }
  }

  /** Appends chunks; a failed disk write leaves file and hash disagreeing, so the writer then only discards. */
  private async appendOrFail(handle: FileHandle, chunks: Uint8Array[]): Promise<void> {
    if (this.cancelled) throw uploadCancelled();
    try {
      await this.append(handle, chunks);
    } catch (e) {
      this.state = 'failed';
      throw e;
    }
  }

  /**
   * Runs one operation with the staging file open and closes it after. A failed source leaves the writer usable
   * (resume); a failed disk write or a cancellation discards the bytes, freeing the space they took.
   */
  private async guarded<T>(fn: (handle: FileHandle) => Promise<T>): Promise<T> {
    this.begin();
    let handle: FileHandle | undefined;
    try {
      handle = await open(this.path, 'r+');
      const result = await fn(handle);
      if (this.cancelled) throw uploadCancelled();
      return result;
    } finally {
      await handle?.close().catch(() => {});
      if (this.state === 'busy') this.state = 'open';
      if (this.cancelled || this.state === 'failed') await this.discard();
    }
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.guarded((handle) => this.appendOrFail(handle, [chunk]));
  }

  writeFrom(source: ByteSource, options: WriteFromOptions = {}): Promise<number> {
    return this.guarded(async (handle) => {
      const start = this.written;
      const flushing = this.context.writeBehind.follow(handle);
      const consumed = options.releaseWritten ? this.context.consumedBuffers : undefined;
      const appends = new CoalescedAppends(async (chunks) => {
        const before = this.written;
        await this.appendOrFail(handle, chunks);
        consumed?.release(chunks);
        flushing.written(this.written - before);
        options.onWritten?.(this.written);
      });
      const take: TakeChunk = (chunk) => {
        if (this.cancelled) throw uploadCancelled();
        if (options.maxBytes !== undefined && this.written + appends.queuedBytes + chunk.byteLength > options.maxBytes) {
          throw new SizeOutOfBoundsError(`content exceeds ${options.maxBytes} bytes`, { limit: options.maxBytes });
        }
        return appends.add(chunk);
      };
      try {
        await (source instanceof Readable ? readByEvents(source, take) : readByIteration(source, take));
      } finally {
        // What arrived before the source ended or failed reaches the file too, so `offset` counts it for a resume.
        // The flush under way is waited for even when that fails: the descriptor closes after this.
        try {
          await appends.drain();
        } finally {
          await this.settleOrFail(flushing);
        }
      }
      return this.written - start;
    });
  }

  async commit(options: CommitOptions = {}): Promise<BlobInfo> {
    this.begin();
    try {
      const expected = this.resolveExpectedDigest(options.digest);
      const expectedSize = options.size ?? this.context.expectedSize;
      if (expectedSize !== undefined && expectedSize !== this.written) throw new SizeMismatchError(expectedSize, this.written);
      const actual = expected.algorithm === this.algorithm ? this.hash.digest('hex') : await this.rehash(expected.algorithm);
      if (actual !== expected.encoded) throw new DigestMismatchError(expected.digest, `${expected.algorithm}:${actual}`);
      const handle = await open(this.path, 'r+');
      try {
        // Fresh mtime: the garbage-collection grace period starts at publication, not at the first byte.
        const now = new Date();
        await handle.utimes(now, now);
        await handle.sync();
      } finally {
        await handle.close();
      }
      this.state = 'finished';
      const info = await this.context.publish(this.path, expected);
      this.context.done();
      return info;
    } catch (e) {
      await this.discard();
      throw e;
    }
  }

  private resolveExpectedDigest(given: string | undefined): RegistryDigest {
    const expected = this.context.expected;
    if (given === undefined) {
      if (!expected) throw new RegistryError('DIGEST_INVALID', 'a digest is required to complete the upload');
      return expected;
    }
    const parsed = requireDigest(given);
    if (expected && expected.digest !== parsed.digest) throw new DigestMismatchError(expected.digest, parsed.digest);
    return parsed;
  }

  /** The client asked for another algorithm than the one hashed while streaming: read the staging file again. */
  private async rehash(algorithm: DigestAlgorithm): Promise<string> {
    const hash = createDigestHash(algorithm);
    for await (const chunk of createReadStream(this.path)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  private async discard(): Promise<void> {
    this.state = 'finished';
    await rm(this.path, { force: true });
    this.context.done();
  }

  async abort(): Promise<void> {
    if (this.state === 'finished') return;
    if (this.state === 'busy') {
      // The running operation owns the file until it ends; it discards the bytes then (see guarded).
      this.cancelled = true;
      return;
    }
    await this.discard();
  }

  async openReader(): Promise<StagedBytes> {
    if (this.state === 'finished') throw new UploadClosedError('upload is no longer open');
    // A descriptor of its own: it reads the same file through a commit's rename and an abort's unlink.
    const handle = await open(this.path, 'r');
    return {
      read: async (position, length) => {
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, position);
        return buffer.subarray(0, bytesRead);
      },
      close: () => handle.close(),
    };
  }
}
