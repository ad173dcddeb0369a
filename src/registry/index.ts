// The site registry: a crash-safe content-addressed blob store, a SQLite index of repositories, manifests and
// tags, garbage collection, and the OCI distribution `/v2` API as an Express Router. This file is its public face.
export { createSiteRegistry, SiteRegistry, type BlobIngest, type SiteRegistryLimits, type SiteRegistryOptions } from './site-registry.js';
export type { ImageTagSummary, RepositorySummary } from './repository-summaries.js';
export type { PutManifestOptions, PutManifestResult, ReferrerDescriptor } from './manifest-store.js';
export { UploadRangeError, type UploadProgress } from './repository-blobs.js';
export type { RetainedImage } from './kept-images.js';
export type { Page, PullThroughRoute, PullThroughRouting, RegistryContent, StoredManifest } from './registry-content.js';
export { createRegistryRouter } from './http/router.js';
export type { RegistryAccess, RegistryIdentity, RegistryRole } from './http/access.js';
export type { BlobInfo, BlobStore, BlobWriter, BlobWriterOptions, ByteRange, ByteSource, CommitOptions, StagedBytes, WriteFromOptions } from './storage/blob-store.js';
export type { GarbageCollectionResult, RemovedBlob } from './garbage-collector.js';
export type { EvictedImage, EvictionPolicy, EvictionResult } from './eviction.js';
export {
  DigestMismatchError,
  ManifestBlobUnknownError,
  RegistryError,
  SizeMismatchError,
  isRegistryError,
  type OciErrorCode,
} from './registry-error.js';
export { BlobUnknownError, SizeOutOfBoundsError, UploadBusyError, UploadClosedError } from './storage/storage-errors.js';
export { isBlobUnknown } from './repository-blobs.js';
export { requireDigest } from './digest.js';
export { isRepositoryName, isTag, parseManifestReference } from './repository-name.js';
export { parseManifestDocument } from './manifest-document.js';
