// src/image-spec: the OCI image spec as one model for every side of Berth -- media types, digests, descriptors,
// manifests and indexes, platforms -- used alike by the registry client, pull and the site registry. It knows no
// protocol and no error codes: what does not parse is a neutral value each side answers in its own words.
export {
  MediaTypes,
  ACCEPTED_MANIFEST_TYPES,
  imageManifestTypes,
  indexManifestTypes,
  isIndexMediaType,
  isImageManifestMediaType,
  isManifestMediaType,
  platformConfigTypes,
  isForeignLayer,
  essenceOf,
} from './media-types.js';
export {
  type DigestAlgorithm,
  type DigestProblem,
  type ParsedDigest,
  Digester,
  checkDigest,
  createDigestHash,
  digestOf,
  digestProblem,
  isDigest,
  isDigestAlgorithm,
  parseDigest,
} from './digest.js';
export {
  type Descriptor,
  type ManifestDocument,
  type ManifestParseOptions,
  type Platform,
  ManifestFormatError,
  parseManifest,
} from './manifest.js';
export { UNKNOWN_PLATFORM, ATTESTATION_REFERENCE_TYPE, formatPlatform, isAttestationManifest, platformOfConfig } from './platform.js';
