// The manifest model: OCI image manifests and indexes and their Docker v2 schema 2 equivalents, parsed from the
// bytes a registry sent and checked just enough that code walking them can trust the shapes.

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** Every manifest type we ask for and understand, in the order we prefer them. */
export const ACCEPTED_MANIFEST_TYPES: readonly string[] = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
];

const INDEX_TYPES = new Set<string>([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);
const IMAGE_TYPES = new Set<string>([MediaTypes.ociManifest, MediaTypes.dockerManifest]);

export const isIndexMediaType = (mediaType: string): boolean => INDEX_TYPES.has(mediaType);
export const isImageManifestMediaType = (mediaType: string): boolean => IMAGE_TYPES.has(mediaType);

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Only on the entries of an index. */
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ParsedManifest = { kind: 'index'; parsed: ImageIndex } | { kind: 'manifest'; parsed: ImageManifest };

/** Thrown by parseManifest; the registry client turns it into a `bad-response` naming the registry. */
export class ManifestFormatError extends Error {
  override readonly name = 'ManifestFormatError';
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw new ManifestFormatError(`${where} is not an object`);
  if (typeof value.mediaType !== 'string') throw new ManifestFormatError(`${where}.mediaType is not a string`);
  if (typeof value.digest !== 'string' || !value.digest.includes(':')) throw new ManifestFormatError(`${where}.digest is not a digest`);
  if (typeof value.size !== 'number' || !Number.isSafeInteger(value.size) || value.size < 0) {
    throw new ManifestFormatError(`${where}.size is not a byte count`);
  }
  if (value.platform !== undefined) {
    const p = value.platform;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      throw new ManifestFormatError(`${where}.platform lacks os/architecture`);
    }
  }
  if (value.annotations !== undefined && !isObject(value.annotations)) {
    throw new ManifestFormatError(`${where}.annotations is not an object`);
  }
  return value as unknown as Descriptor;
}

/**
 * Parses manifest bytes. `mediaType` is what the registry declared; when it is absent or generic, the document's
 * own `mediaType` and then its shape decide. Docker schema 1 is refused: it is deprecated and unsigned digests
 * of it cannot be checked.
 */
export function parseManifest(bytes: Uint8Array, declaredMediaType?: string): ParsedManifest & { mediaType: string } {
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new ManifestFormatError('manifest is not valid JSON');
  }
  if (!isObject(document)) throw new ManifestFormatError('manifest is not a JSON object');
  if (document.schemaVersion === 1) throw new ManifestFormatError('Docker schema 1 manifests are not supported');
  if (document.schemaVersion !== 2) throw new ManifestFormatError('manifest schemaVersion is not 2');

  const ownType = typeof document.mediaType === 'string' ? document.mediaType : undefined;
  const known = (t: string | undefined) => t !== undefined && (INDEX_TYPES.has(t) || IMAGE_TYPES.has(t));
  const mediaType =
    (known(declaredMediaType) ? declaredMediaType : undefined) ??
    (known(ownType) ? ownType : undefined) ??
    (Array.isArray(document.manifests) ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  // Registries differ on OCI vs Docker names, which is harmless; an index served as an image (or the reverse) is not.
  if (ownType !== undefined && known(ownType) && INDEX_TYPES.has(ownType) !== INDEX_TYPES.has(mediaType)) {
    throw new ManifestFormatError(`manifest declares ${ownType} but was served as ${mediaType}`);
  }

  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(document.manifests)) throw new ManifestFormatError('index has no manifests array');
    document.manifests.forEach((d, i) => checkDescriptor(d, `manifests[${i}]`));
    return { kind: 'index', mediaType, parsed: document as unknown as ImageIndex };
  }
  checkDescriptor(document.config, 'config');
  if (!Array.isArray(document.layers)) throw new ManifestFormatError('manifest has no layers array');
  document.layers.forEach((d, i) => checkDescriptor(d, `layers[${i}]`));
  return { kind: 'manifest', mediaType, parsed: document as unknown as ImageManifest };
}

/** `os/arch[/variant]`, or `unknown/unknown` when the platform is missing (as on Docker's attestation manifests). */
export function platformString(platform: Platform | undefined): string {
  if (!platform || !platform.os || !platform.architecture) return 'unknown/unknown';
  return [platform.os, platform.architecture, platform.variant].filter((part) => part).join('/');
}

export const ATTESTATION_REFERENCE_TYPE = 'attestation-manifest';

/** Whether an index entry is a BuildKit attestation (provenance/SBOM) rather than a runnable image. */
export const isAttestationManifest = (descriptor: Descriptor): boolean =>
  descriptor.annotations?.['vnd.docker.reference.type'] === ATTESTATION_REFERENCE_TYPE;
