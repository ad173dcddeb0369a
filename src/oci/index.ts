// src/oci: the OCI distribution protocol as a client of remote registries -- references, auth challenges and
// tokens, manifests and blobs -- on which verify-credentials, list-repositories, list-images and pull are built.
export { RegistryClient, type RegistryClientOptions, type FetchedManifest, type ManifestHead, type BlobDownload } from './registry-client.js';
export type { PingResult } from './ping.js';
export { type RegistryEndpoint, endpointConnection, parseCertificates } from './registry-endpoint.js';
export {
  type RegistryCredential,
  type CredentialResolver,
  anonymousAccess,
  isTokenCredential,
} from './credentials.js';
export { RegistryError, isRegistryError, type RegistryErrorKind, type RegistryFailure } from './registry-error.js';
export { DEFAULT_TIMEOUTS, type RegistryTimeouts } from './transport.js';
export { DEFAULT_RETRY, type RetryOptions } from './retry-layer.js';
export {
  type ImageReference,
  DEFAULT_TAG,
  parseImageReference,
  parseRepositoryReference,
  formatImageReference,
  manifestReferenceOf,
  isValidTag,
  isValidRepositoryName,
  isValidRegistryAddress,
  requireRepositoryName,
  requireManifestReference,
} from './image-reference.js';
export { type DigestAlgorithm, type ParsedDigest, Digester, digestOf, parseDigest, isDigest, requireDigest } from './digest.js';
export {
  MediaTypes,
  ACCEPTED_MANIFEST_TYPES,
  type Platform,
  type Descriptor,
  type ImageManifest,
  type ImageIndex,
  type ParsedManifest,
  ManifestFormatError,
  parseManifest,
  platformString,
  isAttestationManifest,
  isIndexMediaType,
  isImageManifestMediaType,
} from './manifest.js';
export { parseWwwAuthenticate, type Challenge } from './www-authenticate.js';
