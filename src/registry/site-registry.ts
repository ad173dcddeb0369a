// The site registry's domain API: the blob store and the index composed into repositories, manifests, tags,
// uploads, referrers and garbage collection. The /v2 handlers, the /v1 state routes and the pull operation call it.
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { makeDirectoryDurably } from '../store/durable-files.js';
import { digestOf, parseDigest, type DigestAlgorithm } from './digest.js';
import { sweepUnreferencedBlobs, type GarbageCollectionResult } from './garbage-collector.js';
import { evictOverBudget, type EvictionPolicy, type EvictionResult } from './eviction.js';
import {
  formatPlatform,
  parseManifestDocument,
  platformOfConfig,
  type Descriptor,
  type ManifestDocument,
} from './manifest-document.js';
import { isForeignLayer, ociImageIndex, platformConfigTypes } from './media-types.js';
import { ManifestBlobUnknownError, RegistryError } from './registry-error.js';
import { assertRepositoryName, assertTag, isTag, parseManifestReference } from './repository-name.js';
import type { BlobInfo, BlobStore, ByteRange, ByteSource } from './storage/blob-store.js';
import { FilesystemBlobStore } from './storage/filesystem-blob-store.js';
import { RegistryIndex, type ManifestRecord, type PullThroughRecord, type ReferenceRecord } from './storage/registry-index.js';
import { SharedExclusiveLock } from './storage/shared-exclusive-lock.js';
import { UploadSessions } from './upload-sessions.js';
import type { Page, RegistryContent, StoredManifest } from './registry-content.js';
import { observeSiteRegistry, registryMetrics } from './registry-metrics.js';

export interface SiteRegistryOptions {
  /** Berth passes `<BERTH_DATA_DIR>/registry`. */
  dataDir: string;
  /** How long an unreferenced blob is kept after its last commit/mount (see garbage-collector.ts). Default 1 hour. */
  gcGracePeriodMs?: number;
  /** Manifest and config sizes, and upload sessions (in all, per token, idle timeout); defaults in limits.ts. */
  limits?: Partial<SiteRegistryLimits>;
}

export type SiteRegistryLimits = Pick<Limits, 'manifestBytes' | 'manifestEntries' | 'configBytes' | 'uploadSessions' | 'uploadSessionsPerToken' | 'uploadIdleMs'>;

export interface PutManifestOptions {
  /** The remote index a single-platform pull picked this manifest from. */
  sourceIndexDigest?: string;
  /** Annotations of that index's entry for this manifest. */
  sourceAnnotations?: Record<string, string>;
  /** More tags to point at the manifest (the /v2 `?tag=` parameters). */
  tags?: string[];
  /**
   * Stored by pull-through: what it references may arrive later (clients fetch blobs after the manifest), and the
   * manifest may be evicted under the disk budget unless something else stores it too.
   */
  pullThrough?: boolean;
}

export interface PutManifestResult {
  digest: string;
  mediaType: string;
  /** Whether the tag (the reference, when it is a tag) now points at a different manifest than before. */
  tagUpdated: boolean;
  /** Every tag that moved, the reference's and `options.tags`. */
  tagsUpdated: string[];
  subjectDigest?: string;
}

export interface ImageTagSummary {
  tag: string;
  digest: string;
  mediaType: string;
  /** `os/arch[/variant]` of each image the tag covers; attestation entries (`unknown/unknown`) are left out. */
  platforms: string[];
  /** Bytes of every distinct manifest, config and layer the tag reaches. */
  size: number;
  updatedAt: string;
  /** For a single platform pulled out of a remote index: that index's digest. */
  sourceIndexDigest?: string;
}

export interface RepositorySummary {
  name: string;
  tags: ImageTagSummary[];
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface UploadProgress {
  id: string;
  /** Bytes received so far. */
  offset: number;
}

/** Where an appended chunk must start, when the client says (Content-Range); a mismatch is a 416. */
export interface ChunkPosition {
  start: number;
  /** Inclusive end, when the client said it. */
  end?: number;
}

/** Thrown for an out-of-order chunk: the router answers 416 with the current `Range`. */
export class UploadRangeError extends RegistryError {
  constructor(readonly offset: number, message: string) {
    super('BLOB_UPLOAD_INVALID', message, { offset }, 416);
    this.name = 'UploadRangeError';
  }
}

/**
 * An image that must not be deleted while its owner wants it (a desired image of this site): its tag, or its digest
 * when it has none. Deleting it is refused (409); garbage collection never takes what a manifest references.
 */
export interface RetainedImage {
  repository: string;
  tag?: string;
  digest?: string;
  /** Who wants it, for the refusal's message (e.g. `site-images 'kettle'`). */
  by: string;
}

const defaultGracePeriodMs = 60 * 60 * 1000;
/** A pull of a pull-through manifest is written to the index at most this often; memory has the exact time. */
const pullRecordIntervalMs = 60 * 1000;

const manifestUnknown = (repository: string, reference: string) =>
  new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} unknown to repository ${repository}`, { repository, reference });

export class SiteRegistry implements RegistryContent {
  /** When each pull-through manifest (`repository@digest`) was last pulled since start: exact, unlike the index. */
  private readonly lastPulled = new Map<string, number>();
  /** Retained images by repository (retain()). */
  private retained = new Map<string, RetainedImage[]>();

  private constructor(
    readonly blobs: BlobStore,
    private readonly index: RegistryIndex,
    private readonly commitLock: SharedExclusiveLock,
    private readonly uploads: UploadSessions,
    private readonly gcGracePeriodMs: number,
    /** The largest manifest /v2 accepts (and the pull stores); its handler reads the body with this bound. */
    readonly maxManifestBytes: number,
    private readonly maxManifestEntries: number,
    private readonly maxConfigBytes: number,
  ) {}

  static async open(options: SiteRegistryOptions): Promise<SiteRegistry> {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    makeDirectoryDurably(options.dataDir);
    const commitLock = new SharedExclusiveLock();
    const blobs = await FilesystemBlobStore.open(options.dataDir, { commitLock });
    const index = new RegistryIndex(join(options.dataDir, 'index.db'));
    const uploads = new UploadSessions(blobs, { total: limits.uploadSessions, perClient: limits.uploadSessionsPerToken, idleMs: limits.uploadIdleMs });
    const registry = new SiteRegistry(blobs, index, commitLock, uploads, options.gcGracePeriodMs ?? defaultGracePeriodMs, limits.manifestBytes, limits.manifestEntries, limits.configBytes);
    observeSiteRegistry(registry);
    return registry;
  }

  /** Blobs in the store and their bytes. */
  storageUsage(): Promise<{ blobs: number; bytes: number }> {
    return this.blobs.usage();
  }

  /** Upload sessions open now. */
  get uploadsInFlight(): number {
    return this.uploads.open;
  }

  async close(): Promise<void> {
    await this.uploads.close();
    await this.blobs.close();
    this.index.close();
  }

  // ---- repositories (the /v1 state view) ----

  async listRepositories(): Promise<RepositorySummary[]> {
    const names: string[] = [];
    for (let page = this.index.repositoryNames({ limit: 1000 }); page.length > 0; page = this.index.repositoryNames({ limit: 1000, after: page.at(-1)! })) {
      names.push(...page);
    }
    return names.map((name) => this.summarise(name));
  }

  async getRepository(name: string): Promise<RepositorySummary> {
    this.requireRepository(name);
    return this.summarise(name);
  }

  /** The images that must not be deleted, replacing those given before (one owner: the desired images of this site). */
  retain(images: readonly RetainedImage[]): void {
    const retained = new Map<string, RetainedImage[]>();
    for (const image of images) retained.set(image.repository, [...(retained.get(image.repository) ?? []), image]);
    this.retained = retained;
  }

  /** Refuses (409) to delete the tag or digest `reference` of `repository` while a retained image is it or points at it. */
  private refuseIfRetained(repository: string, reference: { tag: string } | { digest: string }): void {
    const image = this.retainedAs(repository, reference);
    if (image) {
      const name = image.tag !== undefined ? `${repository}:${image.tag}` : `${repository}@${image.digest}`;
      throw new RegistryError('DENIED', `${name} is kept: it is desired at this site by ${image.by}; it can be deleted once no longer desired`, { repository, 'desired-by': image.by }, 409);
    }
  }

  /** The retained image that is the tag or digest `reference` of `repository`, or points at it. */
  private retainedAs(repository: string, reference: { tag: string } | { digest: string }): RetainedImage | undefined {
    return (this.retained.get(repository) ?? []).find((image) =>
      'tag' in reference
        ? image.tag === reference.tag
        : image.digest === reference.digest || (image.tag !== undefined && this.index.resolveTag(repository, image.tag) === reference.digest),
    );
  }

  async deleteTag(repository: string, tag: string): Promise<void> {
    this.requireRepository(repository);
    assertTag(tag);
    this.refuseIfRetained(repository, { tag });
    if (!this.index.deleteTag(repository, tag)) throw manifestUnknown(repository, tag);
  }

  /**
   * Deletes a manifest, the tags on it and, for an index, its platform manifests that nothing else uses. A manifest
   * an index still lists is refused (409): deleting it would leave the index naming a platform that is gone.
   */
  async deleteImage(repository: string, digest: string, options: { validateOnly?: boolean } = {}): Promise<void> {
    this.requireRepository(repository);
    parseDigest(digest);
    this.refuseIfRetained(repository, { digest });
    this.refuseIfListed(repository, digest);
    if (options.validateOnly) {
      if (!this.index.hasManifest(repository, digest)) throw manifestUnknown(repository, digest);
      return;
    }
    if (this.index.deleteManifest(repository, digest, true).length === 0) throw manifestUnknown(repository, digest);
  }

  /** What `reference` (a tag or digest) of `repository` holds: its digest, the bytes it reaches, its platforms; undefined when absent. */
  imageSummary(repository: string, reference: string): { digest: string; size: number; platforms: string[]; sourceIndexDigest?: string } | undefined {
    const digest = isTag(reference) ? this.index.resolveTag(repository, reference) : reference;
    const manifest = digest === undefined ? undefined : this.index.getManifest(repository, digest);
    if (!manifest) return undefined;
    return {
      digest: manifest.digest,
      size: this.totalSize(manifest),
      platforms: this.platformsOf(manifest),
      ...(manifest.sourceIndexDigest ? { sourceIndexDigest: manifest.sourceIndexDigest } : {}),
    };
  }

  /** Checked with no await before the delete that follows it, so no index can be recorded in between. */
  private refuseIfListed(repository: string, digest: string): void {
    const indexes = this.index.indexesListing(repository, digest);
    if (indexes.length === 0) return;
    throw new RegistryError(
      'DENIED',
      `manifest ${digest} is listed by the image index ${indexes[0]}${indexes.length > 1 ? ` (and ${indexes.length - 1} more)` : ''} in repository ${repository}; delete the index first, or delete it with the index`,
      { digest, index: indexes[0], indexes: indexes.slice(0, 10) },
      409,
    );
  }

  async collectGarbage(options: { gracePeriodMs?: number } = {}): Promise<GarbageCollectionResult> {
    const expiredUploads = await this.uploads.expireIdle();
    const removedBlobs = await sweepUnreferencedBlobs(
      { blobs: this.blobs, index: this.index, commitLock: this.commitLock },
      options.gracePeriodMs ?? this.gcGracePeriodMs,
    );
    const bytesFreed = removedBlobs.reduce((n, b) => n + b.size, 0);
    registryMetrics.collectedGarbage(removedBlobs.length, bytesFreed);
    return { removedBlobs, bytesFreed, expiredUploads };
  }

  // ---- pull-through content and its eviction ----

  /** Notes that a client pulled a pull-through manifest: the least recently pulled images are evicted first. */
  touchPullThrough(repository: string, digest: string): void {
    const key = `${repository}@${digest}`;
    const now = Date.now();
    const before = this.lastPulled.get(key);
    this.lastPulled.set(key, now);
    // The index keeps the order across restarts to the minute; a write per pull would be a disk flush per pull.
    if (before === undefined || now - before >= pullRecordIntervalMs) this.index.touchPullThrough(repository, digest, now, now - pullRecordIntervalMs);
  }

  /** When a pull-through manifest was last pulled: what memory knows since start, else what the index kept. */
  private lastPulledAt(record: PullThroughRecord): number {
    return Math.max(record.lastPulledAt, this.lastPulled.get(`${record.repository}@${record.digest}`) ?? 0);
  }

  /** Pull-through images (tags, or manifests no other lists) that eviction may take. */
  pullThroughImageCount(): number {
    return this.index.pullThroughRoots().length;
  }

  /** Evicts pull-through images, least recently pulled first, while the store holds more than the budget. */
  async evictPullThrough(policy: EvictionPolicy): Promise<EvictionResult> {
    const result = await evictOverBudget(
      {
        blobs: this.blobs,
        index: this.index,
        commitLock: this.commitLock,
        lastPulled: (record) => this.lastPulledAt(record),
        // A desired image of this site stays, even when pull-through brought it in before the site asked for it.
        retained: (repository, digest) => this.retainedAs(repository, { digest }) !== undefined,
      },
      policy,
    );
    for (const image of result.evicted) this.lastPulled.delete(`${image.repository}@${image.digest}`);
    return result;
  }

  /** Links a blob that is in the store to a repository (pull-through fetched it for that repository). */
  linkBlob(repository: string, digest: string): void {
    assertRepositoryName(repository);
    parseDigest(digest);
    this.index.linkBlob(repository, digest);
  }

  /** The size a manifest of `repository` gives the blob `digest`, when one references it. */
  referencedBlobSize(repository: string, digest: string): number | undefined {
    return this.index.referencedBlobSize(repository, digest);
  }

  private requireRepository(name: string): void {
    assertRepositoryName(name);
    if (!this.index.repositoryExists(name)) {
      throw new RegistryError('NAME_UNKNOWN', `repository ${name} not known to registry`, { name });
    }
  }

  private summarise(name: string): RepositorySummary {
    const tags = this.index.tags(name).flatMap((t): ImageTagSummary[] => {
      const manifest = this.index.manifestSummary(name, t.digest);
      if (!manifest) return [];
      return [{
        tag: t.tag,
        digest: t.digest,
        mediaType: manifest.mediaType,
        platforms: this.platformsOf(manifest),
        size: this.totalSize(manifest),
        updatedAt: t.updatedAt,
        ...(manifest.sourceIndexDigest ? { sourceIndexDigest: manifest.sourceIndexDigest } : {}),
      }];
    });
    return { name, tags };
  }

  private platformsOf(manifest: Pick<ManifestRecord, 'repository' | 'digest' | 'platform'>): string[] {
    const references = this.index.references(manifest.repository, manifest.digest).filter((r) => r.kind === 'manifest');
    if (references.length === 0) return manifest.platform ? [manifest.platform] : [];
    // Only platforms whose manifest is here: an index may never list one that is gone, but state must not claim it.
    const children = new Map<string, ReturnType<RegistryIndex['manifestSummary']>>();
    const childOf = (digest: string) => {
      if (!children.has(digest)) children.set(digest, this.index.manifestSummary(manifest.repository, digest));
      return children.get(digest);
    };
    const platforms = references
      .map((r) => {
        const child = childOf(r.digest);
        return child && (r.platform ?? child.platform);
      })
      .filter((p): p is string => p !== undefined && p !== 'unknown/unknown');
    return [...new Set(platforms)];
  }

  private totalSize(root: Pick<ManifestRecord, 'repository' | 'digest' | 'size'>): number {
    const sizes = new Map<string, number>([[root.digest, root.size]]);
    const pending = [root.digest];
    while (pending.length > 0) {
      for (const r of this.index.references(root.repository, pending.pop()!)) {
        if (sizes.has(r.digest)) continue;
        sizes.set(r.digest, r.size);
        if (r.kind === 'manifest' && this.index.hasManifest(root.repository, r.digest)) pending.push(r.digest);
      }
    }
    return [...sizes.values()].reduce((a, b) => a + b, 0);
  }

  // ---- manifests ----

  /**
   * Stores a manifest byte for byte and points `reference` (a tag, or its own digest) at it. Every blob and child
   * manifest it references must be present first (MANIFEST_BLOB_UNKNOWN otherwise); a `subject` need not be.
   */
  async putManifest(
    repository: string,
    reference: string,
    mediaType: string | undefined,
    bytes: Uint8Array,
    options: PutManifestOptions = {},
  ): Promise<PutManifestResult> {
    assertRepositoryName(repository);
    const ref = parseManifestReference(reference);
    const extraTags = (options.tags ?? []).map(assertTag);
    if (bytes.byteLength > this.maxManifestBytes) {
      throw new RegistryError('MANIFEST_INVALID', `manifest larger than ${this.maxManifestBytes} bytes (BERTH_MAX_MANIFEST_BYTES)`, { size: bytes.byteLength, limit: this.maxManifestBytes }, 413);
    }
    const document = parseManifestDocument(bytes, mediaType, this.maxManifestEntries);
    if (options.sourceIndexDigest !== undefined) parseDigest(options.sourceIndexDigest);
    const algorithm: DigestAlgorithm = ref.digest ? parseDigest(ref.digest).algorithm : 'sha256';
    const digest = digestOf(bytes, algorithm);
    if (ref.digest && ref.digest !== digest) {
      throw new RegistryError('DIGEST_INVALID', `manifest digest ${digest} does not match the reference ${ref.digest}`, { expected: ref.digest, actual: digest });
    }
    const blobReferences = this.blobReferences(document);
    // Pull-through stores a manifest before its clients fetch what it references; everything else must have it all.
    const requirePresent = options.pullThrough ? async () => {} : () => this.requirePresent(repository, document, blobReferences);
    // Held from before the manifest's own blob is written until it is indexed, so GC cannot take it in between.
    const release = this.blobs.hold([digest, ...blobReferences.map((d) => d.digest)]);
    try {
      // Checked before writing too, so a refused push leaves no stray manifest blob; and again under the lock,
      // which is what makes the check hold against a concurrent garbage collection.
      await requirePresent();
      await this.blobs.put(bytes, digest);
      return await this.commitLock.runShared(async () => {
        await requirePresent();
        const platform = await this.platformOfImage(document);
        const record: ManifestRecord = {
          repository,
          digest,
          mediaType: document.mediaType,
          size: bytes.byteLength,
          ...(document.artifactType ? { artifactType: document.artifactType } : {}),
          ...(document.subject ? { subjectDigest: document.subject.digest } : {}),
          ...(document.annotations ? { annotations: document.annotations } : {}),
          ...(platform ? { platform } : {}),
          ...(options.sourceIndexDigest ? { sourceIndexDigest: options.sourceIndexDigest } : {}),
          ...(options.sourceAnnotations ? { sourceAnnotations: options.sourceAnnotations } : {}),
          createdAt: new Date().toISOString(),
        };
        const tags = [...(ref.tag ? [ref.tag] : []), ...extraTags];
        const moved = this.index.recordManifest(record, this.referenceRecords(document), tags, new Date().toISOString(), options.pullThrough ? Date.now() : undefined);
        return {
          digest,
          mediaType: document.mediaType,
          tagUpdated: ref.tag !== undefined && moved.includes(ref.tag),
          tagsUpdated: moved,
          ...(document.subject ? { subjectDigest: document.subject.digest } : {}),
        };
      });
    } finally {
      release();
    }
  }

  /** Blobs the manifest needs in the store: its config and layers, except layers registries never hold. */
  private blobReferences(document: ManifestDocument): Descriptor[] {
    if (document.kind === 'index') return [];
    return [document.config!, ...document.layers.filter((l) => !isForeignLayer(l.mediaType))];
  }

  private async requirePresent(repository: string, document: ManifestDocument, blobReferences: Descriptor[]): Promise<void> {
    const missing: string[] = [];
    for (const digest of new Set(blobReferences.map((d) => d.digest))) {
      if (!(await this.blobs.has(digest))) missing.push(digest);
    }
    for (const digest of new Set(document.manifests.map((m) => m.digest))) {
      if (!this.index.hasManifest(repository, digest)) missing.push(digest);
    }
    if (missing.length > 0) throw new ManifestBlobUnknownError([...new Set(missing)]);
  }

  private async platformOfImage(document: ManifestDocument): Promise<string | undefined> {
    const config = document.config;
    // A pull-through manifest may come before its config: its platform is then not known.
    if (!config || !platformConfigTypes.has(config.mediaType) || config.size > this.maxConfigBytes || !(await this.blobs.has(config.digest))) return undefined;
    const platform = platformOfConfig(await this.blobs.read(config.digest, this.maxConfigBytes));
    return platform ? formatPlatform(platform) : undefined;
  }

  private referenceRecords(document: ManifestDocument): ReferenceRecord[] {
    const entry = (kind: ReferenceRecord['kind'], d: Descriptor): ReferenceRecord => ({
      kind,
      digest: d.digest,
      mediaType: d.mediaType,
      size: d.size,
      ...(d.platform ? { platform: formatPlatform(d.platform) } : {}),
      ...(d.annotations ? { annotations: d.annotations } : {}),
    });
    if (document.kind === 'index') return document.manifests.map((m) => entry('manifest', m));
    return [entry('config', document.config!), ...document.layers.map((l) => entry('layer', l))];
  }

  /**
   * The manifest a tag or digest names; NAME_UNKNOWN or MANIFEST_UNKNOWN (404) otherwise. A malformed tag names no
   * manifest: 404 like any unknown one, as distribution answers and the conformance suite expects (a malformed
   * digest stays a 400 DIGEST_INVALID).
   */
  async statManifest(repository: string, reference: string): Promise<StoredManifest> {
    assertRepositoryName(repository);
    const ref = reference.includes(':') || isTag(reference) ? parseManifestReference(reference) : undefined;
    const digest = ref && (ref.digest ?? this.index.resolveTag(repository, ref.tag));
    const record = digest === undefined ? undefined : this.index.manifestSummary(repository, digest);
    if (!record) {
      if (!this.index.repositoryExists(repository)) throw new RegistryError('NAME_UNKNOWN', `repository ${repository} not known to registry`, { name: repository });
      throw manifestUnknown(repository, reference);
    }
    return {
      digest: record.digest,
      mediaType: record.mediaType,
      size: record.size,
      ...(record.subjectDigest ? { subjectDigest: record.subjectDigest } : {}),
    };
  }

  async getManifest(repository: string, reference: string): Promise<StoredManifest & { bytes: Buffer }> {
    const manifest = await this.statManifest(repository, reference);
    // Bounded by its recorded size: a manifest stored under a larger limit stays readable when the limit is lowered.
    return { ...manifest, bytes: await this.blobs.read(manifest.digest, manifest.size) };
  }

  /** /v2 DELETE of a manifest: a tag removes just the tag; a digest removes that manifest and its tags. */
  async deleteManifest(repository: string, reference: string): Promise<void> {
    assertRepositoryName(repository);
    const ref = parseManifestReference(reference);
    if (!this.index.repositoryExists(repository)) throw new RegistryError('NAME_UNKNOWN', `repository ${repository} not known to registry`, { name: repository });
    this.refuseIfRetained(repository, ref.digest !== undefined ? { digest: ref.digest } : { tag: ref.tag });
    if (ref.digest !== undefined) this.refuseIfListed(repository, ref.digest);
    const deleted = ref.digest !== undefined
      ? this.index.deleteManifest(repository, ref.digest, false).length > 0
      : this.index.deleteTag(repository, ref.tag);
    if (!deleted) throw manifestUnknown(repository, reference);
  }

  async listTags(repository: string, limit: number, after?: string): Promise<Page<string>> {
    this.requireRepository(repository);
    return this.page((page) => this.index.tagNames(repository, page), limit, after);
  }

  async listCatalog(limit: number, after?: string): Promise<Page<string>> {
    return this.page((page) => this.index.repositoryNames(page), limit, after);
  }

  private page(query: (page: { limit: number; after?: string }) => string[], limit: number, after?: string): Page<string> {
    if (limit === 0) return { items: [] };
    // One extra row tells whether a next page exists without a second query.
    const rows = query({ limit: limit + 1, ...(after !== undefined ? { after } : {}) });
    const items = rows.slice(0, limit);
    return rows.length > limit ? { items, next: items.at(-1)! } : { items };
  }

  /** Manifests in `repository` whose subject is `digest`, as the referrers API describes them. */
  async listReferrers(repository: string, digest: string, artifactType?: string): Promise<ReferrerDescriptor[]> {
    assertRepositoryName(repository);
    parseDigest(digest);
    return this.index
      .referrers(repository, digest)
      .filter((m) => artifactType === undefined || m.artifactType === artifactType)
      .map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        ...(m.artifactType ? { artifactType: m.artifactType } : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      }));
  }

  /** The image index the referrers API answers with. */
  static referrersIndex(descriptors: ReferrerDescriptor[]): Record<string, unknown> {
    return { schemaVersion: 2, mediaType: ociImageIndex, manifests: descriptors };
  }

  // ---- blobs ----

  /** A blob as seen from a repository: present on disk and linked to it (by an upload, a mount or a manifest). */
  async statBlob(repository: string, digest: string): Promise<BlobInfo> {
    assertRepositoryName(repository);
    parseDigest(digest);
    const info = this.index.isBlobLinked(repository, digest) ? await this.blobs.stat(digest) : undefined;
    if (!info) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} unknown to repository ${repository}`, { digest });
    return info;
  }

  async openBlob(repository: string, digest: string, range?: ByteRange): Promise<Readable> {
    await this.statBlob(repository, digest);
    return this.blobs.createReadStream(digest, range);
  }

  /** /v2 DELETE of a blob: unlinks it from the repository; garbage collection reclaims the bytes if nothing needs them. */
  async deleteBlob(repository: string, digest: string): Promise<void> {
    assertRepositoryName(repository);
    parseDigest(digest);
    if (!this.index.unlinkBlob(repository, digest)) {
      throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} unknown to repository ${repository}`, { digest });
    }
  }

  /** Cross-repository mount: true when `from` has the blob and it is now linked to `repository` too. */
  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    assertRepositoryName(repository);
    parseDigest(digest);
    if (!this.index.isBlobLinked(from, digest)) return false;
    return this.commitLock.runShared(async () => {
      if (!(await this.blobs.has(digest))) return false;
      // The mount is a new use: restart the grace period so GC leaves it to the manifest that follows.
      await this.blobs.touch(digest);
      this.index.linkBlob(repository, digest);
      return true;
    });
  }

  /** Single-request upload (POST ?digest= or a PUT with the whole body): streamed, verified, linked. */
  async uploadBlob(repository: string, digest: string, source: ByteSource, size?: number): Promise<BlobInfo> {
    assertRepositoryName(repository);
    const info = await this.blobs.ingest(digest, size, source);
    this.index.linkBlob(repository, info.digest);
    return info;
  }

  /** Opens an upload session for `client` (the token's name), within the bounds on sessions (429 past them). */
  async startUpload(repository: string, algorithm?: DigestAlgorithm, client = ''): Promise<UploadProgress> {
    assertRepositoryName(repository);
    const session = await this.uploads.start(repository, client, algorithm);
    return { id: session.id, offset: session.writer.offset };
  }

  async uploadProgress(repository: string, id: string): Promise<UploadProgress> {
    const session = this.uploads.get(repository, id);
    return { id, offset: session.writer.offset };
  }

  /**
   * Appends a chunk. With a position, it must start at the current offset (416 otherwise). If the client's
   * stream breaks, what arrived stays and the status reports it, so the client can resume from there.
   */
  async appendToUpload(repository: string, id: string, source: ByteSource, position?: ChunkPosition): Promise<UploadProgress> {
    const session = this.uploads.get(repository, id);
    const writer = session.writer;
    if (position && position.start !== writer.offset) {
      throw new UploadRangeError(writer.offset, `chunk starts at ${position.start} but the upload has ${writer.offset} bytes`);
    }
    const written = await writer.writeFrom(source);
    if (position?.end !== undefined && written !== position.end - position.start + 1) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', `chunk declared ${position.end - position.start + 1} bytes but carried ${written}`, { offset: writer.offset });
    }
    return { id, offset: writer.offset };
  }

  /** Closes an upload: appends an optional final chunk, verifies `digest`, publishes and links the blob. */
  async completeUpload(
    repository: string,
    id: string,
    digest: string,
    finalChunk?: ByteSource,
    position?: ChunkPosition,
  ): Promise<BlobInfo> {
    parseDigest(digest);
    const session = this.uploads.get(repository, id);
    if (finalChunk) await this.appendToUpload(repository, id, finalChunk, position);
    this.uploads.forget(id);
    // A failed commit discards the staging bytes: the session is over either way, as the spec has it after a 4xx.
    const info = await session.writer.commit({ digest });
    this.index.linkBlob(repository, info.digest);
    return info;
  }

  async cancelUpload(repository: string, id: string): Promise<void> {
    await this.uploads.cancel(repository, id);
  }
}

/** Opens (creating if needed) the site registry under `dataDir`. */
export const createSiteRegistry = (options: SiteRegistryOptions): Promise<SiteRegistry> => SiteRegistry.open(options);
