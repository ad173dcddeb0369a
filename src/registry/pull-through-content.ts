// The pull-through part of the site registry's content: when each pull-through image was last pulled (exact in
// memory, to the minute in the index across restarts), its eviction under the disk budget least recently pulled first
// (sparing images this site wants), and the links pull-through makes for the blobs it fetched.
import { evictOverBudget, type EvictionPolicy, type EvictionResult } from './eviction.js';
import { requireDigest } from './digest.js';
import type { KeptImages } from './kept-images.js';
import { assertRepositoryName } from './repository-name.js';
import type { BlobStore } from './storage/blob-store.js';
import type { PullThroughRecord } from './storage/index-records.js';
import type { RegistryIndex } from './storage/registry-index.js';
import type { SharedExclusiveLock } from './storage/shared-exclusive-lock.js';

/** A pull of a pull-through manifest is written to the index at most this often; memory has the exact time. */
const pullRecordIntervalMs = 60 * 1000;

export class PullThroughContent {
  /** When each pull-through manifest (`repository@digest`) was last pulled since start: exact, unlike the index. */
  private readonly lastPulled = new Map<string, number>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly index: RegistryIndex,
    private readonly commitLock: SharedExclusiveLock,
    private readonly kept: KeptImages,
  ) {}

  /** Notes that a client pulled a pull-through manifest: the least recently pulled images are evicted first. */
  touch(repository: string, digest: string): void {
    const key = `${repository}@${digest}`;
    const now = Date.now();
    const before = this.lastPulled.get(key);
    this.lastPulled.set(key, now);
    // The index keeps the order across restarts to the minute; a write per pull would be a disk flush per pull.
    if (before === undefined || now - before >= pullRecordIntervalMs) this.index.touchPullThrough(repository, digest, now, now - pullRecordIntervalMs);
  }

  /** When a pull-through manifest was last pulled: what memory knows since start, else what the index kept. */
  private lastPulledAt(record: PullThroughRecord): number {
    return Math.max(record.lastPulledAt, this.lastPulled.get(`${record.repository}@${record.digest}`) ?? 0);
  }

  /** Pull-through images (tags, or manifests no other lists) that eviction may take. */
  imageCount(): number {
    return this.index.pullThroughRoots().length;
  }

  /** Evicts pull-through images, least recently pulled first, while the store holds more than the budget. */
  async evict(policy: EvictionPolicy): Promise<EvictionResult> {
    const result = await evictOverBudget(
      {
        blobs: this.blobs,
        index: this.index,
        commitLock: this.commitLock,
        lastPulled: (record) => this.lastPulledAt(record),
        // A desired image of this site stays, even when pull-through brought it in before the site asked for it.
        retained: (repository, digest) => this.kept.retainedAs(repository, { digest }) !== undefined,
      },
      policy,
    );
    for (const image of result.evicted) this.lastPulled.delete(`${image.repository}@${image.digest}`);
    return result;
  }

  /** Links a blob that is in the store to a repository (pull-through fetched it for that repository). */
  linkBlob(repository: string, digest: string): void {
    assertRepositoryName(repository);
    requireDigest(digest);
    this.index.linkBlob(repository, digest);
  }

  /** The size a manifest of `repository` gives the blob `digest`, when one references it. */
  referencedBlobSize(repository: string, digest: string): number | undefined {
    return this.index.referencedBlobSize(repository, digest);
  }
}
