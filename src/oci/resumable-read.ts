// Reading a blob whole from a remote registry over a link that may break: each attempt asks (with `Range`) for the
// bytes after those the sink already holds, failures another attempt may get past are retried with a bounded backoff,
// and a blob that keeps failing without progress is given up. undici's RetryHandler resumes one request the same way;
// here the bytes go to a sink that hashes and stores them (a pull's blob writer), so an attempt appends to them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlobDownload, RegistryClient } from './registry-client.js';
import { UpstreamError } from './upstream-error.js';

export interface ResumePolicy {
  /** Consecutive failed attempts (no byte gained) before a blob is given up. */
  attemptsWithoutProgress: number;
  /** Attempts in all, however many bytes each gained: a bound on a link that keeps breaking. */
  maxAttempts: number;
  /** Wait after the first failure; doubled after each further one, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RESUME_POLICY: ResumePolicy = { attemptsWithoutProgress: 4, maxAttempts: 20, baseDelayMs: 250, maxDelayMs: 4_000 };

/** Where the bytes go: how many it holds, and what it does with one answer (start over when `offset` is not its own). */
export interface BlobSink {
  readonly offset: number;
  receive(download: BlobDownload): Promise<void>;
}

/** A body that ended before the blob's size: resumable like a dropped connection. */
export class ShortBodyError extends Error {}

/** Upstream failures another attempt may get past: dropped connections, timeouts, a registry failing with 5xx. */
export function isTransient(error: unknown): boolean {
  if (error instanceof ShortBodyError) return true;
  if (!(error instanceof UpstreamError)) return false;
  const { kind, status } = error.failure;
  return kind === 'connect' || kind === 'timeout' || (kind === 'bad-response' && status !== undefined && status >= 500);
}

/** Fills `sink` with the blob `blob` of `repository`; rejects with the last failure once the policy gives up. */
export async function readResuming(
  client: RegistryClient,
  repository: string,
  blob: { digest: string; size: number },
  sink: BlobSink,
  policy: ResumePolicy,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 1, withoutProgress = 0; ; attempt++) {
    signal.throwIfAborted();
    const before = sink.offset;
    try {
      const download = await client.getBlob(repository, blob.digest, { offset: sink.offset, signal });
      try {
        await sink.receive(download);
      } finally {
        download.body.destroy();
      }
      if (sink.offset < blob.size) throw new ShortBodyError(`the body ended after ${sink.offset} of ${blob.size} bytes`);
      return;
    } catch (error) {
      withoutProgress = sink.offset > before ? 1 : withoutProgress + 1;
      const giveUp = signal.aborted || !isTransient(error) || withoutProgress >= policy.attemptsWithoutProgress || attempt >= policy.maxAttempts;
      if (giveUp) throw error;
      await sleep(Math.min(policy.baseDelayMs * 2 ** (withoutProgress - 1), policy.maxDelayMs), undefined, { signal });
    }
  }
}
