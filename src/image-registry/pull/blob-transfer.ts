// Blob transfers from remote registries into the site registry's BlobStore: streamed to disk with the size and the
// digest checked as the bytes arrive, read whole over a breaking link by the client's resumable read (Range, bounded
// backoff), at most a few at once per remote registry (its client's download limit), and one transfer per digest
// however many pulls need it.
import { upstreamFailure } from '../../errors.js';
import { DEFAULT_RESUME_POLICY, ShortBodyError, readResuming, type BlobSink, type RegistryClient, type ResumePolicy } from '../../oci/index.js';
import {
  DigestMismatchError,
  SizeMismatchError,
  SizeOutOfBoundsError,
  type BlobIngest,
} from '../../registry/index.js';
import type { Descriptor } from '../../image-spec/index.js';
import { pullMetrics } from './pull-metrics.js';

/** Where a blob comes from: a repository of a remote registry, through that registry's shared client. */
export interface BlobSource {
  client: RegistryClient;
  /** The remote registry's configured address, for messages and metrics. */
  registry: string;
  repository: string;
}

/** How one blob is read whole (oci/resumable-read.ts); how many at once, the registry's client says (its downloads). */
export type TransferPolicy = ResumePolicy;

export const DEFAULT_TRANSFER_POLICY: TransferPolicy = DEFAULT_RESUME_POLICY;

/** One pull's share in a transfer. */
export interface TransferLease {
  /** Settles when the blob is in the store (or the transfer failed). */
  readonly done: Promise<void>;
  /** This pull no longer needs the blob; the transfer is aborted when no pull needs it any more. */
  leave(): void;
}

interface SharedTransfer {
  done: Promise<void>;
  controller: AbortController;
  waiters: number;
  settled: boolean;
}

export class BlobTransfers {
  private readonly transfers = new Map<string, SharedTransfer>();

  constructor(
    private readonly store: BlobIngest,
    private readonly policy: TransferPolicy = DEFAULT_TRANSFER_POLICY,
  ) {}

  /** Transfers running now (for tests and diagnostics). */
  get running(): number {
    return this.transfers.size;
  }

  /**
   * Makes the blob `descriptor` present in the store: at once when it is, else by joining the transfer already
   * running for its digest or starting one from `source`.
   */
  fetch(source: BlobSource, descriptor: Descriptor): TransferLease {
    let shared = this.transfers.get(descriptor.digest);
    if (!shared) {
      const controller = new AbortController();
      const created: SharedTransfer = { controller, waiters: 0, settled: false, done: Promise.resolve() };
      created.done = this.transfer(source, descriptor, controller.signal).finally(() => {
        created.settled = true;
        if (this.transfers.get(descriptor.digest) === created) this.transfers.delete(descriptor.digest);
      });
      // Every lease may have left before it fails; the failure is theirs to see, never an unhandled rejection.
      created.done.catch(() => {});
      this.transfers.set(descriptor.digest, created);
      shared = created;
    } else pullMetrics.joined(source.registry, 'blob');
    const joined = shared;
    joined.waiters++;
    let left = false;
    return {
      done: joined.done,
      leave: () => {
        if (left) return;
        left = true;
        if (--joined.waiters > 0 || joined.settled) return;
        joined.controller.abort(new Error('no pull needs this blob any more'));
        // A pull asking for the blob from now on starts afresh rather than joining a transfer being torn down.
        if (this.transfers.get(descriptor.digest) === joined) this.transfers.delete(descriptor.digest);
      },
    };
  }

  private async transfer(source: BlobSource, descriptor: Descriptor, signal: AbortSignal): Promise<void> {
    const present = await this.store.stat(descriptor.digest);
    if (present) {
      checkPresentSize(source, descriptor, present.size);
      return pullMetrics.blobFromStore(source.registry, source.repository, descriptor.size);
    }
    const release = await source.client.downloads.acquire(signal);
    try {
      // Another transfer (an earlier pull, a /v2 push) may have stored it while this one waited for a place.
      if (await this.store.has(descriptor.digest)) return pullMetrics.blobFromStore(source.registry, source.repository, descriptor.size);
      await pullMetrics.downloading(source.registry, source.repository, descriptor.size, () => this.download(source, descriptor, signal));
    } finally {
      release();
    }
  }

  private async download(source: BlobSource, descriptor: Descriptor, signal: AbortSignal): Promise<void> {
    const open = () => this.store.openWriter({ expectedDigest: descriptor.digest, expectedSize: descriptor.size });
    // Replaced when a registry ignores `Range` and the blob starts over; whichever is current is aborted on failure.
    let writer = await open();
    const sink: BlobSink = {
      get offset() {
        return writer.offset;
      },
      /** One answer: its bytes appended from the writer's offset on, or from the start when the registry ignored `Range`. */
      async receive(download) {
        if (download.offset !== writer.offset) {
          await writer.abort();
          writer = await open();
        }
        if (download.totalSize !== undefined && download.totalSize !== descriptor.size) {
          throw new SizeMismatchError(descriptor.size, download.totalSize);
        }
        // maxBytes stops a registry that sends more than the manifest promised as soon as it passes the size. The
        // body's chunks are the socket's reads, read by nothing else: their memory is freed as soon as it is written.
        await writer.writeFrom(download.body, { maxBytes: descriptor.size, releaseWritten: true });
      },
    };
    try {
      await readResuming(source.client, source.repository, descriptor, sink, this.policy, signal);
      // The hash was computed while streaming; commit compares it, fsyncs and publishes, or discards the bytes.
      await writer.commit();
    } catch (error) {
      await writer.abort();
      throw describeFailure(error, source, descriptor);
    }
  }
}

/** A blob already in the store must be the one the manifest describes; a different size means a broken manifest. */
function checkPresentSize(source: BlobSource, descriptor: Descriptor, size: number): void {
  if (size === descriptor.size) return;
  throw upstreamFailure(
    `registry ${source.registry}: the manifest of ${source.repository} gives blob ${descriptor.digest} a size of ${descriptor.size} bytes, but that content has ${size}`,
    { kind: 'bad-response', registry: source.registry, digest: descriptor.digest },
  );
}

/** The error a pull reports for a failed blob: upstream failures as they are, bad content as a 502 naming the blob. */
function describeFailure(error: unknown, source: BlobSource, descriptor: Descriptor): unknown {
  const what = `registry ${source.registry}: blob ${descriptor.digest} of ${source.repository}`;
  const info = { kind: 'bad-response', registry: source.registry, digest: descriptor.digest };
  if (error instanceof DigestMismatchError) {
    return upstreamFailure(`${what}: the content received hashes to ${error.actual}, not to its digest; it was discarded`, {
      ...info,
      'received-digest': error.actual,
    });
  }
  if (error instanceof SizeMismatchError) {
    return upstreamFailure(`${what}: ${error.actual} bytes received where the manifest says ${descriptor.size}; it was discarded`, info);
  }
  if (error instanceof SizeOutOfBoundsError) {
    return upstreamFailure(`${what}: more bytes sent than the ${descriptor.size} the manifest says; it was discarded`, info);
  }
  if (error instanceof ShortBodyError) {
    return upstreamFailure(`${what}: the transfer kept breaking off (${error.message})`, { kind: 'connect', registry: source.registry, digest: descriptor.digest });
  }
  return error;
}
