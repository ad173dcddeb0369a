// Eviction of pull-through content under a disk budget: while the store holds more than the budget, the image
// (a pull-through manifest no other lists, with the platform manifests it brought) pulled least recently goes,
// then every blob it referenced that nothing else references and nothing holds.
//
// What is never evicted: anything that did not arrive by pull-through (a pull operation's images, a site's desired
// images, /v2 pushes: the index marks only what pull-through stored), an image desired at this site even when
// pull-through stored it first (SiteRegistry.retain: the site-images reconciler then finds it held and pulls
// nothing), a blob a kept manifest references (the check is on every manifest of every repository), an image whose
// manifests or blobs a transfer, a pull or a client being served holds (BlobStore.hold), and repositories the
// policy keeps. It runs under the commit lock held
// exclusive, as garbage collection does (garbage-collector.ts): no manifest can be recorded, and no blob published,
// between the decision that a blob is unreferenced and its removal.
import type { BlobStore } from './storage/blob-store.js';
import type { PullThroughRecord } from './storage/index-records.js';
import type { RegistryIndex } from './storage/registry-index.js';
import type { SharedExclusiveLock } from './storage/shared-exclusive-lock.js';
import type { RemovedBlob } from './garbage-collector.js';

export interface EvictionPolicy {
  /** The most bytes the store should hold. */
  budgetBytes: number;
  /** Whether pull-through content of `repository` must stay whatever the budget. */
  keeps(repository: string): boolean;
}

export interface EvictedImage {
  repository: string;
  digest: string;
  tags: string[];
  /** When a client last pulled it (or one of its platform manifests). */
  lastPulledAt: Date;
  removedBlobs: RemovedBlob[];
  bytesFreed: number;
}

export interface EvictionResult {
  usedBytesBefore: number;
  usedBytesAfter: number;
  evicted: EvictedImage[];
}

export interface EvictionParts {
  blobs: BlobStore;
  index: RegistryIndex;
  commitLock: SharedExclusiveLock;
  /** When a pull-through manifest was last pulled: the index's time, or a later one known in memory. */
  lastPulled(record: PullThroughRecord): number;
  /** Whether the manifest `digest` of `repository` is (or a retained tag points at) a retained image: a desired image. */
  retained(repository: string, digest: string): boolean;
}

/** Evicts pull-through images, least recently pulled first, until the store is within `policy.budgetBytes`. */
export async function evictOverBudget(parts: EvictionParts, policy: EvictionPolicy): Promise<EvictionResult> {
  // Most runs find the store within its budget: that costs no lock.
  const before = (await parts.blobs.usage()).bytes;
  if (before <= policy.budgetBytes) return { usedBytesBefore: before, usedBytesAfter: before, evicted: [] };
  return parts.commitLock.runExclusive(async () => {
    const usedBytesBefore = (await parts.blobs.usage()).bytes;
    let used = usedBytesBefore;
    const evicted: EvictedImage[] = [];
    for (const image of leastRecentlyPulledFirst(parts, policy)) {
      if (used <= policy.budgetBytes) break;
      if (inUse(parts, image.repository, image.members) || image.members.some((digest) => parts.retained(image.repository, digest))) continue;
      const records = parts.index.evictPullThrough(image.repository, image.digest);
      const removedBlobs: RemovedBlob[] = [];
      for (const digest of records.blobs) {
        if (parts.index.isBlobReferenced(digest) || parts.blobs.isHeld(digest)) continue;
        const info = await parts.blobs.stat(digest);
        if (info && (await parts.blobs.delete(digest))) {
          parts.index.dropBlobLinks(digest);
          removedBlobs.push({ digest, size: info.size });
        }
      }
      const bytesFreed = removedBlobs.reduce((n, b) => n + b.size, 0);
      used -= bytesFreed;
      evicted.push({ repository: image.repository, digest: image.digest, tags: records.tags, lastPulledAt: new Date(image.lastPulledAt), removedBlobs, bytesFreed });
    }
    return { usedBytesBefore, usedBytesAfter: used, evicted };
  });
}

interface Candidate {
  repository: string;
  digest: string;
  members: string[];
  lastPulledAt: number;
}

function leastRecentlyPulledFirst(parts: EvictionParts, policy: EvictionPolicy): Candidate[] {
  return parts.index
    .pullThroughRoots()
    .filter((root) => !policy.keeps(root.repository))
    .map((root) => {
      const members = parts.index.pullThroughMembers(root.repository, root.digest);
      const lastPulledAt = Math.max(parts.lastPulled(root), ...members.map((m) => parts.lastPulled(m)));
      return { repository: root.repository, digest: root.digest, members: members.map((m) => m.digest), lastPulledAt };
    })
    .sort((a, b) => a.lastPulledAt - b.lastPulledAt || a.repository.localeCompare(b.repository) || a.digest.localeCompare(b.digest));
}

/** An image is in use while any of its manifests, or any blob they reference, is held. */
function inUse(parts: EvictionParts, repository: string, members: string[]): boolean {
  return members.some(
    (digest) => parts.blobs.isHeld(digest) || parts.index.references(repository, digest).some((r) => r.kind !== 'manifest' && parts.blobs.isHeld(r.digest)),
  );
}
