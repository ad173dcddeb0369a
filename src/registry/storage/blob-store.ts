// The BlobStore interface: content-addressed, immutable blobs that become visible only once complete and
// verified. The filesystem engine implements it; handlers and the domain API only ever see this interface.
import type { Readable } from 'node:stream';
import type { DigestAlgorithm } from '../../image-spec/index.js';

/** Bytes to store: a Readable, an async generator, or chunks already in memory. A chunk must not change once yielded (writers gather several before writing). */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface BlobInfo {
  digest: string;
  size: number;
  /** When the blob was last committed or touched; garbage collection's grace period counts from here. */
  modifiedAt: Date;
}

export interface BlobWriterOptions {
  /** When known up front (a pull), the writer verifies it at commit and garbage collection keeps that digest meanwhile. */
  expectedDigest?: string;
  expectedSize?: number;
  /** Hash to compute while streaming when the digest is not known yet (a /v2 upload); default sha256. */
  algorithm?: DigestAlgorithm;
}

export interface CommitOptions {
  /** Required unless the writer was opened with `expectedDigest`. */
  digest?: string;
  size?: number;
}

export interface WriteFromOptions {
  /** Bounds the total blob size: going past it throws SIZE_INVALID. */
  maxBytes?: number;
  /** Called with the new `offset` each time bytes reached the staging file (one write takes many chunks). */
  onWritten?: (offset: number) => void;
  /**
   * The source's chunks are this write's alone, each byte yielded once (a socket's reads): the memory under them is
   * freed as soon as it is written (consumed-buffers.ts), and reads as empty from then on.
   */
  releaseWritten?: boolean;
}

/**
 * One blob being written into a private staging file. Nothing is visible until `commit()` has checked the
 * digest and size, fsync'd the bytes and renamed them into place. Writes are sequential: one at a time.
 */
export interface BlobWriter {
  readonly id: string;
  /** Bytes written so far: after a broken source, resume from here (e.g. `Range: bytes=<offset>-`). */
  readonly offset: number;
  readonly expectedDigest: string | undefined;
  /** When the writer last received bytes (or was opened); idle upload sessions expire from here. */
  readonly lastActivity: Date;
  /** False once committed, aborted, or broken by a failed disk write (its bytes are then discarded). */
  readonly usable: boolean;
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Appends everything `source` yields and returns how many bytes that was. If the source fails part way, the
   * bytes already appended stay (see `offset`) and the error is rethrown, so the caller can resume or abort.
   * See WriteFromOptions for `maxBytes` and `onWritten`. A stream `source` is never
   * destroyed here, even when reading stops early: its owner decides (a request must stay open to be answered).
   */
  writeFrom(source: ByteSource, options?: WriteFromOptions): Promise<number>;
  /** Verifies, persists and publishes the blob. On a mismatch it throws (DigestMismatchError/SizeMismatchError) and discards the bytes. */
  commit(options?: CommitOptions): Promise<BlobInfo>;
  /**
   * Discards the staging bytes. Safe to call more than once, and after a failed commit. While a write is running,
   * that write stops with BLOB_UPLOAD_UNKNOWN at its next chunk and discards them.
   */
  abort(): Promise<void>;
  /**
   * Reads the bytes as they are written, for a client that is sent a blob while it arrives (pull-through). Bytes
   * below `offset` are final; what the reader has open stays readable after a commit or an abort. Throws once the
   * writer is finished.
   */
  openReader(): Promise<StagedBytes>;
}

/** A reader of a writer's staging bytes (BlobWriter.openReader). */
export interface StagedBytes {
  /** Up to `length` bytes from `position`: fewer at the end of what is written so far. */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface BlobStore {
  openWriter(options?: BlobWriterOptions): Promise<BlobWriter>;
  /** openWriter + writeFrom + commit, aborting on any failure: for callers that do not resume. */
  ingest(expectedDigest: string, expectedSize: number | undefined, source: ByteSource): Promise<BlobInfo>;
  /** Stores bytes already in memory (manifests). */
  put(bytes: Uint8Array, expectedDigest?: string): Promise<BlobInfo>;
  has(digest: string): Promise<boolean>;
  stat(digest: string): Promise<BlobInfo | undefined>;
  /** Reads a small blob whole; throws BLOB_UNKNOWN if absent and SIZE_INVALID if larger than `maxBytes`. */
  read(digest: string, maxBytes: number): Promise<Buffer>;
  /** Opens the blob (or an inclusive byte range of it) for reading; throws BLOB_UNKNOWN if absent. */
  createReadStream(digest: string, range?: ByteRange): Promise<Readable>;
  /** Removes the blob; false if it was not there. */
  delete(digest: string): Promise<boolean>;
  /** Restarts the blob's garbage-collection grace period (a mount or a dedup hit gives it a new use). */
  touch(digest: string): Promise<void>;
  list(): AsyncIterable<BlobInfo>;
  /** Keeps these digests from garbage collection until the returned function is called (pulls in progress). */
  hold(digests: Iterable<string>): () => void;
  isHeld(digest: string): boolean;
  /** How many blobs the store holds and their bytes (a walk of the store, repeated only after it changed). */
  usage(): Promise<{ blobs: number; bytes: number }>;
  /** Aborts open writers. */
  close(): Promise<void>;
}
