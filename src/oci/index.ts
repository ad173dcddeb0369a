// src/oci: the OCI distribution protocol as a client of remote registries -- references, auth challenges and
// tokens, manifests and blobs -- on which verify-credentials, list-repositories, list-images and pull are built.
// What it reads is the image spec's model (src/image-spec); what fails upstream is an UpstreamError (502).
export { RegistryClient, type RegistryClientOptions, type FetchedManifest, type ManifestHead, type BlobDownload } from './registry-client.js';
export type { PingResult } from './ping.js';
export { type RegistryEndpoint, endpointConnection, parseCertificates } from './registry-endpoint.js';
export {
  type RegistryCredential,
  type CredentialResolver,
  anonymousAccess,
  isTokenCredential,
} from './credentials.js';
export { UpstreamError, isUpstreamError, type UpstreamErrorKind, type UpstreamFailure } from './upstream-error.js';
export { DEFAULT_TIMEOUTS, type RegistryTimeouts } from './transport.js';
export { DEFAULT_RETRY, type RetryOptions } from './retry-layer.js';
export { DEFAULT_RESUME_POLICY, ShortBodyError, isTransient, readResuming, type BlobSink, type ResumePolicy } from './resumable-read.js';
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
export { requireDigest } from './digest.js';
export { parseWwwAuthenticate, type Challenge } from './www-authenticate.js';
