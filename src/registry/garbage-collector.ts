// Garbage collection of the blob store: mark every blob a manifest needs, sweep the rest.
//
// Why a blob that no manifest references is still kept:
// - it is held (BlobStore.hold): an ingest with that expected digest is open, or a pull or manifest write
//   declared it needs it. This covers work that outlasts any fixed delay, however slow the upstream;
// - its mtime is within the grace period. A /v2 push uploads layers first and the manifest last, with nothing in
//   between that names the digest; a commit, a mount or a re-upload sets the mtime, so a push in progress keeps its
//   blobs for the grace period without the registry having to guess which session will use which blob.
// Staging files of open uploads live under `uploads/`, which GC never touches; idle sessions expire instead.
// The sweep runs under the commit lock held exclusive, so no manifest can check a blob's presence and record
// itself between GC deciding a blob is unreferenced and unlinking it. Repository links alone keep nothing
// (an abandoned push would otherwise pin its layers forever); they are dropped with the blob.
import type { BlobStore } from './storage/blob-store.js';
import type { RegistryIndex } from './storage/registry-index.js';
import type { SharedExclusiveLock } from './storage/shared-exclusive-lock.js';

export interface RemovedBlob {
  digest: string;
  size: number;
}

export interface GarbageCollectionResult {
  removedBlobs: RemovedBlob[];
  bytesFreed: number;
  /** Upload sessions aborted because they were idle too long. */
  expiredUploads: number;
}

export interface GarbageCollectorParts {
  blobs: BlobStore;
  index: RegistryIndex;
  commitLock: SharedExclusiveLock;
}

export async function sweepUnreferencedBlobs(parts: GarbageCollectorParts, gracePeriodMs: number, now = Date.now()): Promise<RemovedBlob[]> {
  return parts.commitLock.runExclusive(async () => {
    const referenced = parts.index.referencedBlobs();
    const removed: RemovedBlob[] = [];
    for await (const blob of parts.blobs.list()) {
      if (referenced.has(blob.digest) || parts.blobs.isHeld(blob.digest)) continue;
      if (now - blob.modifiedAt.getTime() < gracePeriodMs) continue;
      if (await parts.blobs.delete(blob.digest)) {
        parts.index.dropBlobLinks(blob.digest);
        removed.push({ digest: blob.digest, size: blob.size });
      }
    }
    return removed;
  });
}
