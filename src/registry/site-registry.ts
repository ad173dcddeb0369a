// The site registry's domain API: the blob store and the index composed into its sections -- repository summaries
// (repository-summaries.ts), manifests and tags (manifest-store.ts), blobs and uploads of a repository
// (repository-blobs.ts), what may not be deleted (kept-images.ts), pull-through's content and eviction
// (pull-through-content.ts) -- plus garbage collection and what a pull brings in (ingest). The /v2 handlers, the
// /v1 state routes, pull and pull-through call it; this file only composes.
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Descriptor, DigestAlgorithm, Platform } from '../image-spec/index.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { makeDirectoryDurably } from '../store/durable-files.js';
import { sweepUnreferencedBlobs, type GarbageCollectionResult } from './garbage-collector.js';
import { KeptImages, type RetainedImage } from './kept-images.js';
import type { EvictionPolicy, EvictionResult } from './eviction.js';
import { ManifestStore, type PutManifestOptions, type PutManifestResult, type ReferrerDescriptor } from './manifest-store.js';
import { PullThroughContent } from './pull-through-content.js';
import type { Page, RegistryContent, StoredManifest } from './registry-content.js';
import { RepositoryBlobs, type ChunkPosition, type UploadProgress } from './repository-blobs.js';
import { RepositorySummaries, type RepositorySummary } from './repository-summaries.js';
import type { BlobInfo, BlobStore, ByteRange, ByteSource } from './storage/blob-store.js';
import { FilesystemBlobStore } from './storage/filesystem-blob-store.js';
import { RegistryIndex } from './storage/registry-index.js';
import { SharedExclusiveLock } from './storage/shared-exclusive-lock.js';
import { UploadSessions } from './upload-sessions.js';
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

/**
 * What a pull needs of the store, and no more: a blob's presence, a writer that hashes and publishes it, and a hold
 * that keeps what the pull found present from garbage collection until its manifests are stored.
 */
export type BlobIngest = Pick<BlobStore, 'stat' | 'has' | 'openWriter' | 'hold'>;

const defaultGracePeriodMs = 60 * 60 * 1000;

export class SiteRegistry implements RegistryContent {
  private readonly summaries: RepositorySummaries;
  private readonly kept: KeptImages;
  private readonly manifests: ManifestStore;
  private readonly repositoryBlobs: RepositoryBlobs;
  private readonly pullThrough: PullThroughContent;

  private constructor(
    /** The store itself: garbage collection and tests reach it here; a pull goes through `ingest`. */
    readonly blobs: BlobStore,
    private readonly index: RegistryIndex,
    private readonly commitLock: SharedExclusiveLock,
    private readonly uploads: UploadSessions,
    private readonly gcGracePeriodMs: number,
    limits: SiteRegistryLimits,
  ) {
    this.maxManifestBytes = limits.manifestBytes;
    this.summaries = new RepositorySummaries(index);
    this.kept = new KeptImages(index);
    this.manifests = new ManifestStore(blobs, index, commitLock, this.kept, limits);
    this.repositoryBlobs = new RepositoryBlobs(blobs, index, commitLock, uploads);
    this.pullThrough = new PullThroughContent(blobs, index, commitLock, this.kept);
  }

  /** The largest manifest /v2 accepts (and the pull stores); its handler reads the body with this bound. */
  readonly maxManifestBytes: number;

  static async open(options: SiteRegistryOptions): Promise<SiteRegistry> {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    makeDirectoryDurably(options.dataDir);
    const commitLock = new SharedExclusiveLock();
    const blobs = await FilesystemBlobStore.open(options.dataDir, { commitLock });
    const index = new RegistryIndex(join(options.dataDir, 'index.db'));
    const uploads = new UploadSessions(blobs, { total: limits.uploadSessions, perClient: limits.uploadSessionsPerToken, idleMs: limits.uploadIdleMs });
    const registry = new SiteRegistry(blobs, index, commitLock, uploads, options.gcGracePeriodMs ?? defaultGracePeriodMs, limits);
    observeSiteRegistry(registry);
    return registry;
  }

  /** What a pull brings blobs in through (with a hold on them until its manifests are stored). */
  get ingest(): BlobIngest {
    return this.blobs;
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

  // ---- repositories (the /v1 state view): repository-summaries.ts, kept-images.ts ----

  listRepositories(): Promise<RepositorySummary[]> {
    return this.summaries.list();
  }

  getRepository(name: string): Promise<RepositorySummary> {
    return this.summaries.get(name);
  }

  imageSummary(repository: string, reference: string): ReturnType<RepositorySummaries['imageSummary']> {
    return this.summaries.imageSummary(repository, reference);
  }

  /** The images that must not be deleted, replacing those given before (one owner: the desired images of this site). */
  retain(images: readonly RetainedImage[]): void {
    this.kept.retain(images);
  }

  // ---- pull-through content and its eviction: pull-through-content.ts ----

  touchPullThrough(repository: string, digest: string): void {
    this.pullThrough.touch(repository, digest);
  }

  pullThroughImageCount(): number {
    return this.pullThrough.imageCount();
  }

  evictPullThrough(policy: EvictionPolicy): Promise<EvictionResult> {
    return this.pullThrough.evict(policy);
  }

  linkBlob(repository: string, digest: string): void {
    this.pullThrough.linkBlob(repository, digest);
  }

  referencedBlobSize(repository: string, digest: string): number | undefined {
    return this.pullThrough.referencedBlobSize(repository, digest);
  }

  // ---- manifests and tags: manifest-store.ts ----

  putManifest(repository: string, reference: string, mediaType: string | undefined, bytes: Uint8Array, options?: PutManifestOptions): Promise<PutManifestResult> {
    return this.manifests.put(repository, reference, mediaType, bytes, options);
  }

  platformOfConfig(config: Descriptor): Promise<Platform | undefined> {
    return this.manifests.platformOfConfig(config);
  }

  statManifest(repository: string, reference: string): Promise<StoredManifest> {
    return this.manifests.stat(repository, reference);
  }

  getManifest(repository: string, reference: string): Promise<StoredManifest & { bytes: Buffer }> {
    return this.manifests.get(repository, reference);
  }

  deleteManifest(repository: string, reference: string): Promise<void> {
    return this.manifests.delete(repository, reference);
  }

  deleteTag(repository: string, tag: string): Promise<void> {
    return this.manifests.deleteTag(repository, tag);
  }

  deleteImage(repository: string, digest: string, options?: { validateOnly?: boolean }): Promise<void> {
    return this.manifests.deleteImage(repository, digest, options);
  }

  listTags(repository: string, limit: number, after?: string): Promise<Page<string>> {
    return this.manifests.listTags(repository, limit, after);
  }

  listCatalog(limit: number, after?: string): Promise<Page<string>> {
    return this.manifests.listCatalog(limit, after);
  }

  listReferrers(repository: string, digest: string, artifactType?: string): Promise<ReferrerDescriptor[]> {
    return this.manifests.listReferrers(repository, digest, artifactType);
  }

  // ---- blobs and uploads of a repository: repository-blobs.ts ----

  statBlob(repository: string, digest: string): Promise<BlobInfo> {
    return this.repositoryBlobs.stat(repository, digest);
  }

  openBlob(repository: string, digest: string, range?: ByteRange): Promise<Readable> {
    return this.repositoryBlobs.open(repository, digest, range);
  }

  deleteBlob(repository: string, digest: string): Promise<void> {
    return this.repositoryBlobs.delete(repository, digest);
  }

  mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    return this.repositoryBlobs.mount(repository, digest, from);
  }

  uploadBlob(repository: string, digest: string, source: ByteSource, size?: number): Promise<BlobInfo> {
    return this.repositoryBlobs.upload(repository, digest, source, size);
  }

  startUpload(repository: string, algorithm?: DigestAlgorithm, client?: string): Promise<UploadProgress> {
    return this.repositoryBlobs.startUpload(repository, algorithm, client);
  }

  uploadProgress(repository: string, id: string): Promise<UploadProgress> {
    return this.repositoryBlobs.uploadProgress(repository, id);
  }

  appendToUpload(repository: string, id: string, source: ByteSource, position?: ChunkPosition): Promise<UploadProgress> {
    return this.repositoryBlobs.appendToUpload(repository, id, source, position);
  }

  completeUpload(repository: string, id: string, digest: string, finalChunk?: ByteSource, position?: ChunkPosition): Promise<BlobInfo> {
    return this.repositoryBlobs.completeUpload(repository, id, digest, finalChunk, position);
  }

  cancelUpload(repository: string, id: string): Promise<void> {
    return this.repositoryBlobs.cancelUpload(repository, id);
  }
}

/** Opens (creating if needed) the site registry under `dataDir`. */
export const createSiteRegistry = (options: SiteRegistryOptions): Promise<SiteRegistry> => SiteRegistry.open(options);
