// The site registry: a crash-safe content-addressed blob store, a SQLite index of repositories, manifests and
// tags, garbage collection, and the OCI distribution `/v2` API as an Express Router. This file is its public face.
export {
  createSiteRegistry,
  SiteRegistry,
  UploadRangeError,
  type ImageTagSummary,
  type PutManifestOptions,
  type PutManifestResult,
  type RetainedImage,
  type ReferrerDescriptor,
  type RepositorySummary,
  type SiteRegistryLimits,
  type SiteRegistryOptions,
  type UploadProgress,
} from './site-registry.js';
export type { Page, PullThroughRoute, PullThroughRouting, RegistryContent, StoredManifest } from './registry-content.js';
export { createRegistryRouter } from './http/router.js';
export type { RegistryAccess, RegistryIdentity, RegistryRole } from './http/access.js';
export type { BlobInfo, BlobStore, BlobWriter, BlobWriterOptions, ByteRange, ByteSource, CommitOptions, StagedBytes } from './storage/blob-store.js';
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
export { digestOf, parseDigest, type DigestAlgorithm } from './digest.js';
export { isRepositoryName, isTag, parseManifestReference } from './repository-name.js';
export {
  formatPlatform,
  parseManifestDocument,
  platformOfConfig,
  type Descriptor,
  type ManifestDocument,
  type Platform,
} from './manifest-document.js';
export * as mediaTypes from './media-types.js';
