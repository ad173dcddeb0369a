// Blobs as a repository of the site registry sees them: present on disk and linked to it (by an upload, a mount or a
// manifest); read, unlinked, mounted from another repository, and uploaded whole or in chunks through upload sessions.
import type { Readable } from 'node:stream';
import type { DigestAlgorithm } from '../image-spec/index.js';
import { requireDigest } from './digest.js';
import { RegistryError } from './registry-error.js';
import { BlobUnknownError } from './storage/storage-errors.js';
import { assertRepositoryName } from './repository-name.js';
import type { BlobInfo, BlobStore, ByteRange, ByteSource } from './storage/blob-store.js';
import type { RegistryIndex } from './storage/registry-index.js';
import type { SharedExclusiveLock } from './storage/shared-exclusive-lock.js';
import type { UploadSessions } from './upload-sessions.js';

export interface UploadProgress {
  id: string;
  /** Bytes received so far. */
  offset: number;
}

/** Where an appended chunk must start, when the client says (Content-Range); a mismatch is a 416. */
export interface ChunkPosition {
  start: number;
  /** Inclusive end, when the client said it. */
  end?: number;
}

/** Thrown for an out-of-order chunk: the router answers 416 with the current `Range`. */
export class UploadRangeError extends RegistryError {
  constructor(readonly offset: number, message: string) {
    super('BLOB_UPLOAD_INVALID', message, { offset }, 416);
    this.name = 'UploadRangeError';
  }
}

/** No such blob for the repository: unlinked or absent (BLOB_UNKNOWN), or gone from the store meanwhile. */
export const isBlobUnknown = (error: unknown): boolean =>
  (error instanceof RegistryError && error.code === 'BLOB_UNKNOWN') || error instanceof BlobUnknownError;

export class RepositoryBlobs {
  constructor(
    private readonly blobs: BlobStore,
    private readonly index: RegistryIndex,
    private readonly commitLock: SharedExclusiveLock,
    private readonly uploads: UploadSessions,
  ) {}

  /** A blob as seen from a repository: present on disk and linked to it (by an upload, a mount or a manifest). */
  async stat(repository: string, digest: string): Promise<BlobInfo> {
    assertRepositoryName(repository);
    requireDigest(digest);
    const info = this.index.isBlobLinked(repository, digest) ? await this.blobs.stat(digest) : undefined;
    if (!info) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} unknown to repository ${repository}`, { digest });
    return info;
  }

  async open(repository: string, digest: string, range?: ByteRange): Promise<Readable> {
    await this.stat(repository, digest);
    return this.blobs.createReadStream(digest, range);
  }

  /** /v2 DELETE of a blob: unlinks it from the repository; garbage collection reclaims the bytes if nothing needs them. */
  async delete(repository: string, digest: string): Promise<void> {
    assertRepositoryName(repository);
    requireDigest(digest);
    if (!this.index.unlinkBlob(repository, digest)) {
      throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} unknown to repository ${repository}`, { digest });
    }
  }

  /** Cross-repository mount: true when `from` has the blob and it is now linked to `repository` too. */
  async mount(repository: string, digest: string, from: string): Promise<boolean> {
    assertRepositoryName(repository);
    requireDigest(digest);
    if (!this.index.isBlobLinked(from, digest)) return false;
    return this.commitLock.runShared(async () => {
      if (!(await this.blobs.has(digest))) return false;
      // The mount is a new use: restart the grace period so GC leaves it to the manifest that follows.
      await this.blobs.touch(digest);
      this.index.linkBlob(repository, digest);
      return true;
    });
  }

  /** Single-request upload (POST ?digest= or a PUT with the whole body): streamed, verified, linked. */
  async upload(repository: string, digest: string, source: ByteSource, size?: number): Promise<BlobInfo> {
    assertRepositoryName(repository);
    const info = await this.blobs.ingest(digest, size, source);
    this.index.linkBlob(repository, info.digest);
    return info;
  }

  /** Opens an upload session for `client` (the token's name), within the bounds on sessions (429 past them). */
  async startUpload(repository: string, algorithm?: DigestAlgorithm, client = ''): Promise<UploadProgress> {
    assertRepositoryName(repository);
    const session = await this.uploads.start(repository, client, algorithm);
    return { id: session.id, offset: session.writer.offset };
  }

  async uploadProgress(repository: string, id: string): Promise<UploadProgress> {
    const session = this.uploads.get(repository, id);
    return { id, offset: session.writer.offset };
  }

  /**
   * Appends a chunk. With a position, it must start at the current offset (416 otherwise). If the client's
   * stream breaks, what arrived stays and the status reports it, so the client can resume from there.
   */
  async appendToUpload(repository: string, id: string, source: ByteSource, position?: ChunkPosition): Promise<UploadProgress> {
    const session = this.uploads.get(repository, id);
    const writer = session.writer;
    if (position && position.start !== writer.offset) {
      throw new UploadRangeError(writer.offset, `chunk starts at ${position.start} but the upload has ${writer.offset} bytes`);
    }
    const written = await writer.writeFrom(source);
    if (position?.end !== undefined && written !== position.end - position.start + 1) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', `chunk declared ${position.end - position.start + 1} bytes but carried ${written}`, { offset: writer.offset });
    }
    return { id, offset: writer.offset };
  }

  /** Closes an upload: appends an optional final chunk, verifies `digest`, publishes and links the blob. */
  async completeUpload(
    repository: string,
    id: string,
    digest: string,
    finalChunk?: ByteSource,
    position?: ChunkPosition,
  ): Promise<BlobInfo> {
    requireDigest(digest);
    const session = this.uploads.get(repository, id);
    if (finalChunk) await this.appendToUpload(repository, id, finalChunk, position);
    this.uploads.forget(id);
    // A failed commit discards the staging bytes: the session is over either way, as the spec has it after a 4xx.
    const info = await session.writer.commit({ digest });
    this.index.linkBlob(repository, info.digest);
    return info;
  }

  async cancelUpload(repository: string, id: string): Promise<void> {
    await this.uploads.cancel(repository, id);
  }
}
