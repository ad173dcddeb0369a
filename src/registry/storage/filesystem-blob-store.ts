// The BlobStore on the local disk: `blobs/<algorithm>/<first two hex>/<hex>`, written through staging files
// under `uploads/` that are hashed while streaming, fsync'd, then renamed into place (and the directory fsync'd).
//
// Crash safety: a blob path only ever appears through rename(2) of a complete, verified, fsync'd file, so a
// kill -9 at any moment leaves either no blob or the whole blob. Staging files are NOT kept across a restart:
// start-up deletes everything under `uploads/`. A /v2 client whose session vanished gets BLOB_UPLOAD_UNKNOWN
// and restarts its upload, as the spec tells it to; a pull restarts its ingest. Keeping them would mean
// trusting bytes whose hash state is gone, for little gain on an edge site that restarts rarely.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Hash } from 'node:crypto';
import { createDigestHash, digestOf, parseDigest, type DigestAlgorithm, type ParsedDigest } from '../digest.js';
import { DigestMismatchError, RegistryError, SizeMismatchError } from '../registry-error.js';
import type { BlobInfo, BlobStore, BlobWriter, BlobWriterOptions, ByteRange, ByteSource, CommitOptions, StagedBytes } from './blob-store.js';
import type { SharedExclusiveLock } from './shared-exclusive-lock.js';
import { syncDirectory } from '../../store/durable-files.js';

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

  /** Hands a chunk over; waits only while a full batch is waiting for the write under way. */
  async add(chunk: Uint8Array): Promise<void> {
    this.check();
    this.pending.push(chunk);
    this.pendingBytes += chunk.byteLength;
    this.pump();
    if (this.pendingBytes >= WRITE_BATCH_BYTES || this.pending.length >= WRITE_BATCH_CHUNKS) await this.inFlight;
    this.check();
  }

  /** Waits until everything handed over is written. */
  async drain(): Promise<void> {
    for (this.pump(); this.inFlight; this.pump()) await this.inFlight;
    this.check();
  }
}

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException | null)?.code === 'ENOENT';

const blobUnknown = (digest: string) => new RegistryError('BLOB_UNKNOWN', `blob ${digest} unknown to registry`, { digest });

export interface FilesystemBlobStoreOptions {
  /** Held shared around each publish; garbage collection holds it exclusive. */
  commitLock: SharedExclusiveLock;
}

export class FilesystemBlobStore implements BlobStore {
  private readonly blobsDir: string;
  private readonly uploadsDir: string;
  private readonly writers = new Set<FilesystemBlobWriter>();
  private readonly holds = new Map<string, number>();
  /** Counts blobs published and deleted, so `usage()` walks the store again only after it changed. */
  private generation = 0;
  private counted: { generation: number; usage: Promise<{ blobs: number; bytes: number }> } | undefined;

  private constructor(dataDir: string, private readonly options: FilesystemBlobStoreOptions) {
    this.blobsDir = join(dataDir, 'blobs');
    this.uploadsDir = join(dataDir, 'uploads');
  }

  /** Creates the directories and removes staging files left by a previous process (see the header). */
  static async open(dataDir: string, options: FilesystemBlobStoreOptions): Promise<FilesystemBlobStore> {
    const store = new FilesystemBlobStore(dataDir, options);
    await mkdir(store.blobsDir, { recursive: true });
    await rm(store.uploadsDir, { recursive: true, force: true });
    await mkdir(store.uploadsDir, { recursive: true });
    await syncDirectory(dataDir);
    return store;
  }

  pathOf(parsed: ParsedDigest): string {
    return join(this.blobsDir, parsed.algorithm, parsed.hex.slice(0, 2), parsed.hex);
  }

  async openWriter(options: BlobWriterOptions = {}): Promise<BlobWriter> {
    const expected = options.expectedDigest === undefined ? undefined : parseDigest(options.expectedDigest);
    if (options.expectedSize !== undefined && (!Number.isSafeInteger(options.expectedSize) || options.expectedSize < 0)) {
      throw new RegistryError('SIZE_INVALID', `invalid expected size ${options.expectedSize}`);
    }
    const id = randomUUID();
    const path = join(this.uploadsDir, id);
    // 'wx': a fresh file that nobody else can be writing to. Closed at once: writers open it per operation.
    await (await open(path, 'wx', 0o644)).close();
    const release = expected ? this.hold([expected.digest]) : () => {};
    const writer = new FilesystemBlobWriter(id, path, expected?.algorithm ?? options.algorithm ?? 'sha256', {
      expected,
      expectedSize: options.expectedSize,
      publish: (source, digest) => this.publish(source, digest),
      done: () => {
        release();
        this.writers.delete(writer);
      },
    });
    this.writers.add(writer);
    return writer;
  }

  async ingest(expectedDigest: string, expectedSize: number | undefined, source: ByteSource): Promise<BlobInfo> {
    const writer = await this.openWriter({ expectedDigest, ...(expectedSize === undefined ? {} : { expectedSize }) });
    try {
      await writer.writeFrom(source, expectedSize === undefined ? {} : { maxBytes: expectedSize });
      return await writer.commit();
    } catch (e) {
      await writer.abort();
      throw e;
    }
  }

  async put(bytes: Uint8Array, expectedDigest?: string): Promise<BlobInfo> {
    const writer = await this.openWriter({ expectedDigest: expectedDigest ?? digestOf(bytes) });
    try {
      await writer.write(bytes);
      return await writer.commit({ size: bytes.byteLength });
    } catch (e) {
      await writer.abort();
      throw e;
    }
  }

  /** Moves a verified, fsync'd staging file into place. Renaming over an existing blob is harmless: same bytes. */
  private async publish(stagingPath: string, digest: ParsedDigest): Promise<BlobInfo> {
    return this.options.commitLock.runShared(async () => {
      const target = this.pathOf(digest);
      const shardDir = join(this.blobsDir, digest.algorithm, digest.hex.slice(0, 2));
      const created = await mkdir(shardDir, { recursive: true });
      if (created !== undefined) {
        // New directories must themselves be durable entries of their parents.
        await syncDirectory(join(this.blobsDir, digest.algorithm));
        await syncDirectory(this.blobsDir);
      }
      await rename(stagingPath, target);
      this.generation++;
      await syncDirectory(shardDir);
      const info = await stat(target);
      return { digest: digest.digest, size: info.size, modifiedAt: info.mtime };
    });
  }

  async has(digest: string): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  async stat(digest: string): Promise<BlobInfo | undefined> {
    const parsed = parseDigest(digest);
    try {
      const info = await stat(this.pathOf(parsed));
      return { digest: parsed.digest, size: info.size, modifiedAt: info.mtime };
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async read(digest: string, maxBytes: number): Promise<Buffer> {
    const info = await this.stat(digest);
    if (!info) throw blobUnknown(digest);
    if (info.size > maxBytes) throw new RegistryError('SIZE_INVALID', `blob ${digest} is larger than ${maxBytes} bytes`, { digest });
    try {
      return await readFile(this.pathOf(parseDigest(digest)));
    } catch (e) {
      if (isMissing(e)) throw blobUnknown(digest);
      throw e;
    }
  }

  async createReadStream(digest: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(parseDigest(digest));
    // Open first so a missing blob is a clean BLOB_UNKNOWN rather than a stream error after headers went out.
    // An open descriptor keeps reading even if garbage collection unlinks the file meanwhile.
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      if (isMissing(e)) throw blobUnknown(digest);
      throw e;
    }
    return createReadStream(path, { fd: handle, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async delete(digest: string): Promise<boolean> {
    const parsed = parseDigest(digest);
    const path = this.pathOf(parsed);
    try {
      await unlink(path);
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
    this.generation++;
    await syncDirectory(join(this.blobsDir, parsed.algorithm, parsed.hex.slice(0, 2)));
    return true;
  }

  async touch(digest: string): Promise<void> {
    const now = new Date();
    try {
      await utimes(this.pathOf(parseDigest(digest)), now, now);
    } catch (e) {
      if (isMissing(e)) throw blobUnknown(digest);
      throw e;
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const algorithmDir = join(this.blobsDir, algorithm);
      const shards = await readdir(algorithmDir).catch((e: unknown) => {
        if (isMissing(e)) return [] as string[];
        throw e;
      });
      for (const shard of shards.sort()) {
        const names = await readdir(join(algorithmDir, shard)).catch((e: unknown) => {
          if (isMissing(e)) return [] as string[];
          throw e;
        });
        for (const hex of names.sort()) {
          const info = await this.stat(`${algorithm}:${hex}`).catch(() => undefined);
          if (info) yield info;
        }
      }
    }
  }

  hold(digests: Iterable<string>): () => void {
    const held = [...digests];
    for (const d of held) this.holds.set(d, (this.holds.get(d) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const d of held) {
        const n = (this.holds.get(d) ?? 1) - 1;
        if (n <= 0) this.holds.delete(d);
        else this.holds.set(d, n);
      }
    };
  }

  isHeld(digest: string): boolean {
    return this.holds.has(digest);
  }

  usage(): Promise<{ blobs: number; bytes: number }> {
    // A walk that started before a change is not reused after it; callers meanwhile share one walk.
    if (this.counted?.generation !== this.generation) {
      const usage = (async () => {
        let blobs = 0;
        let bytes = 0;
        for await (const blob of this.list()) {
          blobs++;
          bytes += blob.size;
        }
        return { blobs, bytes };
      })();
      this.counted = { generation: this.generation, usage };
      usage.catch(() => {
        if (this.counted?.usage === usage) this.counted = undefined;
      });
    }
    return this.counted.usage;
  }

  async close(): Promise<void> {
    await Promise.all([...this.writers].map((w) => w.abort()));
  }
}

interface WriterContext {
  expected: ParsedDigest | undefined;
  expectedSize: number | undefined;
  publish(stagingPath: string, digest: ParsedDigest): Promise<BlobInfo>;
  done(): void;
}

const uploadCancelled = () => new RegistryError('BLOB_UPLOAD_UNKNOWN', 'the upload was cancelled while this request was sending it');

/** Chunks of `source`; a stream is read without being destroyed when the reading stops early (its owner decides). */
const chunksOf = (source: ByteSource): AsyncIterable<Uint8Array> | Iterable<Uint8Array> =>
  source instanceof Readable ? source.iterator({ destroyOnReturn: false }) : source;

/**
 * Writes one staging file. The file is open only while an operation runs (a write, a commit): an upload session
 * waiting for its next chunk holds no file descriptor, so idle sessions cannot exhaust them.
 */
class FilesystemBlobWriter implements BlobWriter {
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
    if (this.state === 'busy') throw new RegistryError('BLOB_UPLOAD_INVALID', 'another write to this upload is in progress', undefined, 409);
    if (this.state !== 'open' || this.cancelled) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'upload is no longer open');
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

  writeFrom(source: ByteSource, options: { maxBytes?: number } = {}): Promise<number> {
    return this.guarded(async (handle) => {
      const start = this.written;
      const appends = new CoalescedAppends((chunks) => this.appendOrFail(handle, chunks));
      try {
        for await (const chunk of chunksOf(source)) {
          if (this.cancelled) throw uploadCancelled();
          if (options.maxBytes !== undefined && this.written + appends.queuedBytes + chunk.byteLength > options.maxBytes) {
            throw new RegistryError('SIZE_INVALID', `content exceeds ${options.maxBytes} bytes`, { limit: options.maxBytes });
          }
          await appends.add(chunk);
        }
      } finally {
        // What arrived before the source ended or failed reaches the file too, so `offset` counts it for a resume.
        await appends.drain();
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
      if (actual !== expected.hex) throw new DigestMismatchError(expected.digest, `${expected.algorithm}:${actual}`);
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

  private resolveExpectedDigest(given: string | undefined): ParsedDigest {
    const expected = this.context.expected;
    if (given === undefined) {
      if (!expected) throw new RegistryError('DIGEST_INVALID', 'a digest is required to complete the upload');
      return expected;
    }
    const parsed = parseDigest(given);
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
    if (this.state === 'finished') throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'upload is no longer open');
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
