// The manifest model: OCI image manifests and indexes and their Docker v2 schema 2 equivalents, parsed from bytes
// and checked just enough that code walking them can trust the shapes. The bytes themselves are kept untouched
// by whoever holds them; this only reads them. A document that is not a manifest is a ManifestFormatError, a
// neutral value: the registry client answers it as the remote's bad response, the site registry as MANIFEST_INVALID.
import { isDigest } from './digest.js';
import { essenceOf, indexManifestTypes, isIndexMediaType, isManifestMediaType, MediaTypes } from './media-types.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** One descriptor type for what a remote sent and what the site registry holds, as distribution has. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  /** Only on the entries of an index. */
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

/** Why bytes are not a manifest Berth takes; `detail` is safe to show (never a secret: it is the document's own). */
export class ManifestFormatError extends Error {
  override readonly name = 'ManifestFormatError';

  constructor(message: string, readonly detail?: Record<string, unknown>) {
    super(message);
  }
}

/** How a manifest's served media type (Content-Type) is taken. */
export interface ManifestParseOptions {
  /**
   * `pushed` (the site registry): a Content-Type contradicting the document's `mediaType`, or naming a type Berth
   * does not store, is refused. `fetched` (a remote's answer): registries differ on OCI vs Docker names, which is
   * harmless, so the document's own known type wins and only an index served as an image (or the reverse) is refused.
   */
  served: 'pushed' | 'fetched';
  /** Most entries of an index, or layers of an image (BERTH_MAX_MANIFEST_ENTRIES); unbounded when absent. */
  maxEntries?: number;
}

const invalid = (message: string, detail?: Record<string, unknown>) => new ManifestFormatError(message, detail);

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
 * per entry and pulling one a fetch per entry (BERTH_MAX_MANIFEST_ENTRIES).
 */
function parseDescriptorList(value: unknown, where: string, maxEntries: number): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`manifest has no ${where} array`);
  if (value.length > maxEntries) {
    throw invalid(`manifest lists ${value.length} ${where}, more than the ${maxEntries} Berth stores (BERTH_MAX_MANIFEST_ENTRIES)`, { entries: value.length, limit: maxEntries });
  }
  return value.map((d, i) => parseDescriptor(d, `${where}[${i}]`));
}

/** A pushed manifest's type: the Content-Type, else its `mediaType` field, else its shape (OCI allows omitting both). */
function pushedMediaType(contentType: string | undefined, own: string | undefined, doc: Record<string, unknown>): string {
  // Generic types say nothing about the manifest, so they defer to the document.
  const header = essenceOf(contentType);
  const fromHeader = header && header !== 'application/json' && header !== 'application/octet-stream' ? header : undefined;
  if (fromHeader && own && fromHeader !== own) {
    throw invalid(`Content-Type ${fromHeader} does not match the manifest's mediaType ${own}`);
  }
  const mediaType = fromHeader ?? own ?? (Array.isArray(doc.manifests) ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  if (!isManifestMediaType(mediaType)) throw invalid(`unsupported manifest media type ${mediaType}`, { mediaType });
  return mediaType;
}

/** A fetched manifest's type: its own `mediaType` when known, else what the registry served when known, else its shape. */
function fetchedMediaType(contentType: string | undefined, own: string | undefined, doc: Record<string, unknown>): string {
  const served = essenceOf(contentType);
  const known = (t: string | undefined): t is string => t !== undefined && isManifestMediaType(t);
  const mediaType = known(own) ? own : known(served) ? served : Array.isArray(doc.manifests) ? MediaTypes.ociIndex : MediaTypes.ociManifest;
  if (known(served) && isIndexMediaType(served) !== isIndexMediaType(mediaType)) {
    throw invalid(`manifest declares ${mediaType} but was served as ${served}`);
  }
  return mediaType;
}

/**
 * Parses manifest bytes or throws ManifestFormatError. `contentType` is the type the bytes came with. Callers bound
 * the bytes before (BERTH_MAX_MANIFEST_BYTES): whoever read them knows where they came from. Docker schema 1 is
 * refused: it is deprecated and unsigned digests of it cannot be checked.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, options: ManifestParseOptions): ManifestDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw invalid(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw invalid('manifest is not a JSON object');
  if (doc.schemaVersion === 1) throw invalid('Docker schema 1 manifests are not supported', { schemaVersion: 1 });
  if (doc.schemaVersion !== 2) throw invalid('manifest schemaVersion must be 2', { schemaVersion: doc.schemaVersion ?? null });
  const own = optionalString(doc.mediaType, 'mediaType');
  const mediaType = (options.served === 'pushed' ? pushedMediaType : fetchedMediaType)(contentType, own, doc);
  const maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
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
