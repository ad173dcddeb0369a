// The site registry: a crash-safe content-addressed blob store, a SQLite index of repositories, manifests and
// tags, garbage collection, and the OCI distribution `/v2` API as an Express Router. This file is its public face.
export { createSiteRegistry, SiteRegistry, type BlobIngest, type SiteRegistryLimits, type SiteRegistryOptions } from './site-registry.js';
export type { ImageTagSummary, RepositorySummary } from './repository-summaries.js';
export type { Page, PutManifestOptions, PutManifestResult, ReferrerDescriptor, StoredManifest } from './manifest-store.js';
export { UploadRangeError, type UploadProgress } from './repository-blobs.js';
export type { RetainedImage } from './kept-images.js';
export { createRegistryRouter } from './http/router.js';
export type { RegistryAccess, RegistryIdentity, RegistryRole } from './http/access.js';
export type { BlobInfo, BlobStore, BlobWriter, BlobWriterOptions, ByteRange, ByteSource, CommitOptions } from './storage/blob-store.js';
export type { GarbageCollectionResult, RemovedBlob } from './garbage-collector.js';
export {
  DigestMismatchError,
  ManifestBlobUnknownError,
  RegistryError,
  SizeMismatchError,
  isRegistryError,
  type OciErrorCode,
} from './registry-error.js';
export { BlobUnknownError, SizeOutOfBoundsError, UploadBusyError, UploadClosedError } from './storage/storage-errors.js';
export { requireDigest } from './digest.js';
export { parseManifestDocument } from './manifest-document.js';
