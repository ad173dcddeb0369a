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
import type { Readable } from 'node:stream';
import { digestOf, type DigestAlgorithm } from '../../image-spec/index.js';
import { requireDigest, type RegistryDigest } from '../digest.js';
import { BlobUnknownError, SizeOutOfBoundsError } from './storage-errors.js';
import type { BlobInfo, BlobStore, BlobWriter, BlobWriterOptions, ByteRange, ByteSource } from './blob-store.js';
import type { SharedExclusiveLock } from './shared-exclusive-lock.js';
import { syncDirectory } from '../../store/durable-files.js';
import { FilesystemBlobWriter } from './filesystem-blob-writer.js';
import { ConsumedBuffers } from './consumed-buffers.js';
import { WriteBehind } from './write-behind.js';

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException | null)?.code === 'ENOENT';

const blobUnknown = (digest: string) => new BlobUnknownError(digest);

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
  /** Flushes staging files as they are written, one at a time for the whole store. */
  private readonly writeBehind = new WriteBehind();
  /** Frees the chunks writers have written, counting each buffer's slices across all of them. */
  private readonly consumedBuffers = new ConsumedBuffers();

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

  pathOf(parsed: RegistryDigest): string {
    return join(this.blobsDir, parsed.algorithm, parsed.encoded.slice(0, 2), parsed.encoded);
  }

  async openWriter(options: BlobWriterOptions = {}): Promise<BlobWriter> {
    const expected = options.expectedDigest === undefined ? undefined : requireDigest(options.expectedDigest);
    if (options.expectedSize !== undefined && (!Number.isSafeInteger(options.expectedSize) || options.expectedSize < 0)) {
      throw new SizeOutOfBoundsError(`invalid expected size ${options.expectedSize}`);
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
      writeBehind: this.writeBehind,
      consumedBuffers: this.consumedBuffers,
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
  private async publish(stagingPath: string, digest: RegistryDigest): Promise<BlobInfo> {
    return this.options.commitLock.runShared(async () => {
      const target = this.pathOf(digest);
      const shardDir = join(this.blobsDir, digest.algorithm, digest.encoded.slice(0, 2));
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
    const parsed = requireDigest(digest);
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
    if (info.size > maxBytes) throw new SizeOutOfBoundsError(`blob ${digest} is larger than ${maxBytes} bytes`, { digest });
    try {
      return await readFile(this.pathOf(requireDigest(digest)));
    } catch (e) {
      if (isMissing(e)) throw blobUnknown(digest);
      throw e;
    }
  }

  async createReadStream(digest: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(requireDigest(digest));
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
    const parsed = requireDigest(digest);
    const path = this.pathOf(parsed);
    try {
      await unlink(path);
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
    this.generation++;
    await syncDirectory(join(this.blobsDir, parsed.algorithm, parsed.encoded.slice(0, 2)));
    return true;
  }

  async touch(digest: string): Promise<void> {
    const now = new Date();
    try {
      await utimes(this.pathOf(requireDigest(digest)), now, now);
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
