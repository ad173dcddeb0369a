// Parsing and validating a manifest's bytes (image manifest or index, OCI or Docker v2): what it references,
// its subject, artifact type and annotations. The bytes themselves are stored untouched; this only reads them.
import { isDigest } from './digest.js';
import {
  essenceOf,
  imageManifestTypes,
  indexManifestTypes,
  ociImageIndex,
  ociImageManifest,
} from './media-types.js';
import { RegistryError } from './registry-error.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  urls?: string[];
}

export interface ManifestDocument {
  kind: 'image' | 'index';
  mediaType: string;
  /** Image manifests only. */
  config?: Descriptor;
  /** Image manifests only. */
  layers: Descriptor[];
  /** Indexes only: the child manifests. */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** As the referrers API reports it: `artifactType`, else (image manifests) the config media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

const invalid = (message: string, detail?: Record<string, unknown>) => new RegistryError('MANIFEST_INVALID', message, detail);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw invalid(`${where} must be an object of strings`);
  }
  return value as Record<string, string>;
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${where} must be a string`);
  return value;
}

function parsePlatform(value: unknown, where: string): Platform | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value) || typeof value.os !== 'string' || typeof value.architecture !== 'string') {
    throw invalid(`${where} must have string os and architecture`);
  }
  const variant = optionalString(value.variant, `${where}.variant`);
  return { os: value.os, architecture: value.architecture, ...(variant ? { variant } : {}) };
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${where}.mediaType must be a non-empty string`);
  if (typeof digest !== 'string' || !isDigest(digest)) throw invalid(`${where}.digest is not a valid digest`, { digest: String(digest).slice(0, 200) });
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  const annotations = stringMap(value.annotations, `${where}.annotations`);
  const platform = parsePlatform(value.platform, `${where}.platform`);
  const artifactType = optionalString(value.artifactType, `${where}.artifactType`);
  let urls: string[] | undefined;
  if (value.urls !== undefined) {
    if (!Array.isArray(value.urls) || !value.urls.every((u) => typeof u === 'string')) throw invalid(`${where}.urls must be strings`);
    urls = value.urls as string[];
  }
  return {
    mediaType, digest, size,
    ...(annotations ? { annotations } : {}),
    ...(platform ? { platform } : {}),
    ...(artifactType ? { artifactType } : {}),
    ...(urls ? { urls } : {}),
  };
}

/**
 * A list of descriptors, at most `maxEntries` long: counted before any is read, since storing one means a database row
 * per entry and reading it back a lookup per entry (BERTH_MAX_MANIFEST_ENTRIES).
 */
function parseDescriptorList(value: unknown, where: string, maxEntries: number): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  if (value.length > maxEntries) {
    throw invalid(`manifest lists ${value.length} ${where}, more than the ${maxEntries} Berth stores (BERTH_MAX_MANIFEST_ENTRIES)`, { entries: value.length, limit: maxEntries });
  }
  return value.map((d, i) => parseDescriptor(d, `${where}[${i}]`));
}

/** Which media type the document is: the Content-Type, else its `mediaType` field, else its shape (OCI allows omitting both). */
function resolveMediaType(contentType: string | undefined, doc: Record<string, unknown>): string {
  const declared = optionalString(doc.mediaType, 'mediaType');
  const header = essenceOf(contentType);
  // Generic types say nothing about the manifest, so they defer to the document.
  const fromHeader = header && header !== 'application/json' && header !== 'application/octet-stream' ? header : undefined;
  if (fromHeader && declared && fromHeader !== declared) {
    throw invalid(`Content-Type ${fromHeader} does not match the manifest's mediaType ${declared}`);
  }
  const mediaType = fromHeader ?? declared ?? (Array.isArray(doc.manifests) ? ociImageIndex : ociImageManifest);
  if (!imageManifestTypes.has(mediaType) && !indexManifestTypes.has(mediaType)) {
    throw invalid(`unsupported manifest media type ${mediaType}`, { mediaType });
  }
  return mediaType;
}

/**
 * Parses manifest bytes or throws MANIFEST_INVALID. `contentType` is the request's (or the pull's) media type.
 * Callers bound the bytes before (BERTH_MAX_MANIFEST_BYTES): whoever read them knows where they came from.
 * `maxEntries` bounds the entries of an index and the layers of an image.
 */
export function parseManifestDocument(bytes: Uint8Array, contentType: string | undefined, maxEntries = Number.POSITIVE_INFINITY): ManifestDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw invalid(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
  if (doc.schemaVersion !== 2) throw invalid('manifest schemaVersion must be 2', { schemaVersion: doc.schemaVersion ?? null });
  const mediaType = resolveMediaType(contentType, doc);
  const subject = doc.subject === undefined ? undefined : parseDescriptor(doc.subject, 'subject');
  const annotations = stringMap(doc.annotations, 'annotations');
  const declaredArtifactType = optionalString(doc.artifactType, 'artifactType');
  const common = {
    mediaType,
    ...(subject ? { subject } : {}),
    ...(annotations ? { annotations } : {}),
  };
  if (indexManifestTypes.has(mediaType)) {
    return {
      kind: 'index', ...common, layers: [],
      manifests: parseDescriptorList(doc.manifests, 'manifests', maxEntries),
      ...(declaredArtifactType ? { artifactType: declaredArtifactType } : {}),
    };
  }
  const config = parseDescriptor(doc.config, 'config');
  const layers = doc.layers === undefined ? [] : parseDescriptorList(doc.layers, 'layers', maxEntries);
  return { kind: 'image', ...common, config, layers, manifests: [], artifactType: declaredArtifactType ?? config.mediaType };
}

export const formatPlatform = (p: Platform): string => `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;

/** Reads the platform from an image config's JSON; undefined when it has none (artifacts, odd configs). */
export function platformOfConfig(bytes: Uint8Array): Platform | undefined {
  try {
    const config: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    if (!isObject(config) || typeof config.os !== 'string' || typeof config.architecture !== 'string') return undefined;
    return { os: config.os, architecture: config.architecture, ...(typeof config.variant === 'string' && config.variant ? { variant: config.variant } : {}) };
  } catch {
    return undefined;
  }
}
