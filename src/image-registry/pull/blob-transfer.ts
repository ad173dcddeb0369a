// Blob transfers from remote registries into the site registry's BlobStore: streamed to disk with the size and the
// digest checked as the bytes arrive, resumed with `Range` after a broken connection, retried with backoff (bounded),
// at most a few at once per remote registry, and one transfer per digest however many pulls need it.
import { setTimeout as sleep } from 'node:timers/promises';
import { upstreamFailure } from '../../errors.js';
import { RegistryError as UpstreamError, type RegistryClient } from '../../oci/index.js';
import {
  DigestMismatchError,
  SizeMismatchError,
  isRegistryError as isSiteRegistryError,
  type BlobStore,
  type BlobWriter,
  type Descriptor,
} from '../../registry/index.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import { pullMetrics } from './pull-metrics.js';

/** Where a blob comes from: a repository of a remote registry, through that registry's shared client. */
export interface BlobSource {
  client: RegistryClient;
  /** The remote registry's configured address: the key of its concurrency limit. */
  registry: string;
  repository: string;
}

export interface TransferPolicy {
  /** Downloads open at once to one remote registry, across every pull. */
  perRegistry: number;
  /** Consecutive failed attempts (no byte gained) before a blob is given up. */
  attemptsWithoutProgress: number;
  /** Attempts in all, however many bytes each gained: a bound on a link that keeps breaking. */
  maxAttempts: number;
  /** Wait after the first failure; doubled after each further one, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_TRANSFER_POLICY: TransferPolicy = {
  perRegistry: 4,
  attemptsWithoutProgress: 4,
  maxAttempts: 20,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
};

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

/** A body that ended before the size the manifest gives: resumable like a dropped connection. */
class ShortBodyError extends Error {}

/** Upstream failures another attempt may get past: dropped connections, timeouts, a registry failing with 5xx. */
function isTransient(error: unknown): boolean {
  if (error instanceof ShortBodyError) return true;
  if (!(error instanceof UpstreamError)) return false;
  const { kind, status } = error.failure;
  return kind === 'connect' || kind === 'timeout' || (kind === 'bad-response' && status !== undefined && status >= 500);
}

export class BlobTransfers {
  private readonly transfers = new Map<string, SharedTransfer>();
  private readonly limits = new Map<string, ConcurrencyLimit>();

  constructor(
    private readonly store: BlobStore,
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

  private limitFor(registry: string): ConcurrencyLimit {
    let limit = this.limits.get(registry);
    if (!limit) {
      limit = new ConcurrencyLimit(this.policy.perRegistry);
      this.limits.set(registry, limit);
    }
    return limit;
  }

  private async transfer(source: BlobSource, descriptor: Descriptor, signal: AbortSignal): Promise<void> {
    const present = await this.store.stat(descriptor.digest);
    if (present) {
      checkPresentSize(source, descriptor, present.size);
      return pullMetrics.blobFromStore(source.registry, source.repository, descriptor.size);
    }
    const release = await this.limitFor(source.registry).acquire(signal);
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
    const staging = { writer: await open(), open };
    try {
      for (let attempt = 1, withoutProgress = 0; ; attempt++) {
        signal.throwIfAborted();
        const before = staging.writer.offset;
        try {
          await this.receive(source, descriptor, staging, signal);
          break;
        } catch (error) {
          withoutProgress = staging.writer.offset > before ? 1 : withoutProgress + 1;
          const giveUp =
            signal.aborted || !isTransient(error) || withoutProgress >= this.policy.attemptsWithoutProgress || attempt >= this.policy.maxAttempts;
          if (giveUp) throw error;
          const delay = Math.min(this.policy.baseDelayMs * 2 ** (withoutProgress - 1), this.policy.maxDelayMs);
          await sleep(delay, undefined, { signal });
        }
      }
      // The hash was computed while streaming; commit compares it, fsyncs and publishes, or discards the bytes.
      await staging.writer.commit();
    } catch (error) {
      await staging.writer.abort();
      throw describeFailure(error, source, descriptor);
    }
  }

  /**
   * One attempt: asks for the bytes from the writer's offset on and appends them. A registry that ignores `Range`
   * sends everything again, so the bytes so far are discarded and a fresh writer takes it from the start.
   */
  private async receive(
    source: BlobSource,
    descriptor: Descriptor,
    staging: { writer: BlobWriter; open(): Promise<BlobWriter> },
    signal: AbortSignal,
  ): Promise<void> {
    const download = await source.client.getBlob(source.repository, descriptor.digest, { offset: staging.writer.offset, signal });
    try {
      if (download.offset !== staging.writer.offset) {
        await staging.writer.abort();
        staging.writer = await staging.open();
      }
      if (download.totalSize !== undefined && download.totalSize !== descriptor.size) {
        throw new SizeMismatchError(descriptor.size, download.totalSize);
      }
      // maxBytes stops a registry that sends more than the manifest promised as soon as it passes the size.
      await staging.writer.writeFrom(download.body, { maxBytes: descriptor.size });
    } finally {
      download.body.destroy();
    }
    const received = staging.writer.offset;
    if (received < descriptor.size) throw new ShortBodyError(`the body ended after ${received} of ${descriptor.size} bytes`);
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
  if (isSiteRegistryError(error) && error.code === 'SIZE_INVALID') {
    return upstreamFailure(`${what}: more bytes sent than the ${descriptor.size} the manifest says; it was discarded`, info);
  }
  if (error instanceof ShortBodyError) {
    return upstreamFailure(`${what}: the transfer kept breaking off (${error.message})`, { kind: 'connect', registry: source.registry, digest: descriptor.digest });
  }
  return error;
}
