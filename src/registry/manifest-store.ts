// Manifests and tags of the site registry: a manifest stored byte for byte once everything it references is here,
// tags pointing at it, stat and read by tag or digest, deletes (refused while kept or listed), tag and catalog pages,
// and the referrers of a subject.
import {
  digestOf,
  formatPlatform,
  isForeignLayer,
  platformConfigTypes,
  platformOfConfig,
  type Descriptor,
  type DigestAlgorithm,
  type ManifestDocument,
  type Platform,
  ManifestFormatError,
} from '../image-spec/index.js';
import { requireDigest } from './digest.js';
import type { KeptImages } from './kept-images.js';
import type { Page, StoredManifest } from './registry-content.js';
import { parseManifestDocument } from './manifest-document.js';
import { ManifestBlobUnknownError, RegistryError } from './registry-error.js';
import { assertRepositoryName, assertTag, isTag, nameUnknown, parseManifestReference, requireRepository } from './repository-name.js';
import type { BlobStore } from './storage/blob-store.js';
import type { ManifestRecord, ReferenceRecord } from './storage/index-records.js';
import type { RegistryIndex } from './storage/registry-index.js';
import type { SharedExclusiveLock } from './storage/shared-exclusive-lock.js';
import type { Limits } from '../limits.js';

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

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const manifestUnknown = (repository: string, reference: string) =>
  new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} unknown to repository ${repository}`, { repository, reference });

export class ManifestStore {
  constructor(
    private readonly blobs: BlobStore,
    private readonly index: RegistryIndex,
    private readonly commitLock: SharedExclusiveLock,
    private readonly kept: KeptImages,
    private readonly limits: Pick<Limits, 'manifestBytes' | 'manifestEntries' | 'configBytes'>,
  ) {}

  async deleteTag(repository: string, tag: string): Promise<void> {
    requireRepository(this.index, repository);
    assertTag(tag);
    this.kept.refuseIfRetained(repository, { tag });
    if (!this.index.deleteTag(repository, tag)) throw manifestUnknown(repository, tag);
  }

  /**
   * Deletes a manifest, the tags on it and, for an index, its platform manifests that nothing else uses. A manifest
   * an index still lists is refused (409): deleting it would leave the index naming a platform that is gone.
   */
  async deleteImage(repository: string, digest: string, options: { validateOnly?: boolean } = {}): Promise<void> {
    requireRepository(this.index, repository);
    requireDigest(digest);
    this.kept.refuseIfRetained(repository, { digest });
    this.kept.refuseIfListed(repository, digest);
    if (options.validateOnly) {
      if (!this.index.hasManifest(repository, digest)) throw manifestUnknown(repository, digest);
      return;
    }
    if (this.index.deleteManifest(repository, digest, true).length === 0) throw manifestUnknown(repository, digest);
  }

  /**
   * Stores a manifest byte for byte and points `reference` (a tag, or its own digest) at it. Every blob and child
   * manifest it references must be present first (MANIFEST_BLOB_UNKNOWN otherwise); a `subject` need not be.
   */
  async put(
    repository: string,
    reference: string,
    mediaType: string | undefined,
    bytes: Uint8Array,
    options: PutManifestOptions = {},
  ): Promise<PutManifestResult> {
    assertRepositoryName(repository);
    const ref = parseManifestReference(reference);
    const extraTags = (options.tags ?? []).map(assertTag);
    if (bytes.byteLength > this.limits.manifestBytes) {
      throw new RegistryError('MANIFEST_INVALID', `manifest larger than ${this.limits.manifestBytes} bytes (BERTH_MAX_MANIFEST_BYTES)`, { size: bytes.byteLength, limit: this.limits.manifestBytes }, 413);
    }
    const document = parseManifestDocument(bytes, mediaType, this.limits.manifestEntries);
    if (options.sourceIndexDigest !== undefined) requireDigest(options.sourceIndexDigest);
    const algorithm: DigestAlgorithm = ref.digest ? requireDigest(ref.digest).algorithm : 'sha256';
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
    const platform = document.config ? await this.platformOfConfig(document.config) : undefined;
    return platform ? formatPlatform(platform) : undefined;
  }

  /**
   * The platform the stored image config `config` names; undefined when it names none, is no image config, is
   * larger than BERTH_MAX_CONFIG_BYTES or is not JSON (it is stored as any blob; it just has no platform to show), or
   * is not here yet (a pull-through manifest may come before its config).
   */
  async platformOfConfig(config: Descriptor): Promise<Platform | undefined> {
    if (!platformConfigTypes.has(config.mediaType) || config.size > this.limits.configBytes || !(await this.blobs.has(config.digest))) return undefined;
    try {
      return platformOfConfig(await this.blobs.read(config.digest, this.limits.configBytes));
    } catch (error) {
      if (error instanceof ManifestFormatError) return undefined;
      throw error;
    }
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
  async stat(repository: string, reference: string): Promise<StoredManifest> {
    assertRepositoryName(repository);
    const ref = reference.includes(':') || isTag(reference) ? parseManifestReference(reference) : undefined;
    const digest = ref && (ref.digest ?? this.index.resolveTag(repository, ref.tag));
    const record = digest === undefined ? undefined : this.index.manifestSummary(repository, digest);
    if (!record) {
      if (!this.index.repositoryExists(repository)) throw nameUnknown(repository);
      throw manifestUnknown(repository, reference);
    }
    return {
      digest: record.digest,
      mediaType: record.mediaType,
      size: record.size,
      ...(record.subjectDigest ? { subjectDigest: record.subjectDigest } : {}),
    };
  }

  async get(repository: string, reference: string): Promise<StoredManifest & { bytes: Buffer }> {
    const manifest = await this.stat(repository, reference);
    // Bounded by its recorded size: a manifest stored under a larger limit stays readable when the limit is lowered.
    return { ...manifest, bytes: await this.blobs.read(manifest.digest, manifest.size) };
  }

  /** /v2 DELETE of a manifest: a tag removes just the tag; a digest removes that manifest and its tags. */
  async delete(repository: string, reference: string): Promise<void> {
    assertRepositoryName(repository);
    const ref = parseManifestReference(reference);
    if (!this.index.repositoryExists(repository)) throw nameUnknown(repository);
    this.kept.refuseIfRetained(repository, ref.digest !== undefined ? { digest: ref.digest } : { tag: ref.tag });
    if (ref.digest !== undefined) this.kept.refuseIfListed(repository, ref.digest);
    const deleted = ref.digest !== undefined
      ? this.index.deleteManifest(repository, ref.digest, false).length > 0
      : this.index.deleteTag(repository, ref.tag);
    if (!deleted) throw manifestUnknown(repository, reference);
  }

  async listTags(repository: string, limit: number, after?: string): Promise<Page<string>> {
    requireRepository(this.index, repository);
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
    requireDigest(digest);
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
}
