// The pull operation: fetch an image's manifests from a remote registry (digests verified), pick the platform(s),
// bring every blob into the site registry's store, then store the manifests and tag -- the tag last, so a pull that
// fails anywhere tags nothing. Identical pulls running at once are one pull: pull-operations.ts sees to that.
//
// What a remote serves is not trusted to be small: an index's entries are bounded in number and in the bytes their
// descriptors give (checked before anything is fetched), each manifest is read no further than its descriptor's
// size, duplicates are fetched once, and a pull has a bounded number of fetches in flight.
import { notFound, upstreamFailure } from '../../errors.js';
import type { RegistryClient } from '../../oci/index.js';
import { DEFAULT_LIMITS, type Limits } from '../../limits.js';
import { mapBounded } from '../operations/bounded-map.js';
import {
  formatPlatform,
  isRegistryError as isSiteRegistryError,
  mediaTypes,
  parseManifestDocument,
  platformOfConfig,
  type Descriptor,
  type ManifestDocument,
  type SiteRegistry,
} from '../../registry/index.js';
import type { BlobSource, BlobTransfers, TransferLease } from './blob-transfer.js';
import { availablePlatforms, describePlatform, matchesPlatform, selectPlatform, type PlatformChoice } from './platform.js';
import type { PullSpec } from './pull-request.js';

/** The remote registry a pull reads from, through its shared client. */
export interface RemoteRegistrySource {
  /** The configured address. */
  registry: string;
  client: RegistryClient;
}

export interface PullOutcome {
  /** `repository:tag` in the site registry, or `repository@digest` when nothing was tagged. */
  name: string;
  /** Digest of what was tagged: the index, or the one platform's manifest. */
  digest: string;
  tagUpdated: boolean;
}

/** How a pull gets its blobs: the shared BlobTransfers, or a view of them that tracks one pull (pull-operations.ts). */
export type BlobFetcher = Pick<BlobTransfers, 'fetch'>;

/** A manifest as fetched (bytes exactly as the registry sent them, digest verified) and as the site registry reads it. */
interface PulledManifest {
  digest: string;
  bytes: Buffer;
  /** The type to store it under: its own `mediaType` when it declares one, else what the registry served. */
  mediaType: string;
  document: ManifestDocument;
}

interface PullPlan {
  /** Every manifest to store, children before the indexes that list them; the last one is tagged. */
  manifests: PulledManifest[];
  /** Set when one platform was taken out of an index. */
  sourceIndex?: { digest: string; annotations?: Record<string, string> };
}

/** An index of indexes of images is as deep as real registries go. */
const MAX_INDEX_DEPTH = 2;

export type PullLimits = Pick<Limits, 'configBytes' | 'manifestEntries' | 'pullManifestBytes' | 'operationFetches'>;

/** What one pull has taken on so far: the manifests below the top, and the bytes of all its manifests. */
class ManifestBudget {
  private entries = 0;
  private bytes: number;

  constructor(private readonly limits: PullLimits, top: PulledManifest) {
    this.bytes = top.bytes.byteLength;
  }

  /** Takes on an index's entries before any is fetched, or fails naming the bound they would pass. */
  admit(source: BlobSource, index: PulledManifest, entries: readonly Descriptor[], fresh: readonly Descriptor[]): void {
    this.entries += entries.length;
    const { manifestEntries, pullManifestBytes } = this.limits;
    if (this.entries > manifestEntries) {
      throw upstreamFailure(
        `registry ${source.registry}: image index ${index.digest} of ${source.repository} lists ${entries.length} manifests${this.entries > entries.length ? ` (${this.entries} in this pull)` : ''}, more than the ${manifestEntries} a pull takes (BERTH_MAX_MANIFEST_ENTRIES)`,
        { kind: 'bad-response', registry: source.registry, digest: index.digest, limit: manifestEntries },
      );
    }
    // Sizes as the descriptors give them: a manifest is never read past its descriptor's size.
    this.bytes += fresh.reduce((sum, entry) => sum + entry.size, 0);
    if (this.bytes > pullManifestBytes) {
      throw upstreamFailure(
        `registry ${source.registry}: the manifests of ${source.repository} below image index ${index.digest} come to ${this.bytes} bytes, more than the ${pullManifestBytes} a pull holds (BERTH_MAX_PULL_MANIFEST_BYTES)`,
        { kind: 'bad-response', registry: source.registry, digest: index.digest, limit: pullManifestBytes },
      );
    }
  }
}

export class ImagePuller {
  constructor(
    private readonly site: SiteRegistry,
    private readonly transfers: BlobTransfers,
    private readonly limits: PullLimits = DEFAULT_LIMITS,
  ) {}

  /** `transfers` decides how blobs arrive; a view whose leases fail once the pull is stopped stops the pull. */
  async pull(remote: RemoteRegistrySource, spec: PullSpec, transfers: BlobFetcher = this.transfers): Promise<PullOutcome> {
    const source: BlobSource = { client: remote.client, registry: remote.registry, repository: spec.source.repository };
    const top = await this.fetchManifest(source, spec.source.reference);
    const plan = await this.plan(source, spec, top);
    const tagged = plan.manifests.at(-1)!;
    const blobs = uniqueBlobs(plan.manifests);

    // Held from now until the manifests are indexed: garbage collection must not take a blob this pull found present.
    const release = this.site.blobs.hold([...blobs.map((b) => b.digest), ...plan.manifests.map((m) => m.digest)]);
    try {
      if (spec.platforms.kind === 'one' && spec.platforms.explicit && !plan.sourceIndex && tagged.document.config) {
        await this.transferAll(transfers, source, [tagged.document.config]);
        await this.checkImagePlatform(source, spec.source.reference, tagged.document.config, spec.platforms.choice);
      }
      await this.transferAll(transfers, source, blobs);
      return await this.store(spec, plan);
    } finally {
      release();
    }
  }

  /**
   * Fetches and checks a manifest (no further than `expectedSize` when an index gave it); one the site registry could
   * not store is the remote's bad response.
   */
  private async fetchManifest(source: BlobSource, reference: string, expectedSize?: number): Promise<PulledManifest> {
    const fetched = await source.client.getManifest(source.repository, reference, expectedSize === undefined ? {} : { expectedSize });
    const declared = fetched.parsed.mediaType;
    const mediaType = typeof declared === 'string' && declared !== '' ? declared : fetched.mediaType;
    try {
      // Too many entries are refused here, before any blob is fetched, rather than by the store after.
      const document = parseManifestDocument(fetched.bytes, mediaType, this.limits.manifestEntries);
      return { digest: fetched.digest, bytes: fetched.bytes, mediaType, document };
    } catch (error) {
      if (!isSiteRegistryError(error)) throw error;
      throw upstreamFailure(`registry ${source.registry}: manifest ${source.repository}@${fetched.digest} cannot be stored: ${error.message}`, {
        kind: 'bad-response',
        registry: source.registry,
        digest: fetched.digest,
      });
    }
  }

  private async plan(source: BlobSource, spec: PullSpec, top: PulledManifest): Promise<PullPlan> {
    if (top.document.kind !== 'index') return { manifests: [top] };
    if (spec.platforms.kind === 'all') return { manifests: await this.withChildren(source, top) };
    const choice = spec.platforms.choice;
    const entry = selectPlatform(top.document.manifests, choice);
    if (!entry) throw missingPlatform(spec.source.repository, spec.source.reference, choice, availablePlatforms(top.document.manifests));
    new ManifestBudget(this.limits, top).admit(source, top, [entry], [entry]);
    const child = await this.fetchManifest(source, entry.digest, entry.size);
    if (child.document.kind === 'index') throw nestedIndex(source, entry.digest);
    return {
      manifests: [child],
      sourceIndex: { digest: top.digest, ...(entry.annotations ? { annotations: entry.annotations } : {}) },
    };
  }

  /**
   * The index and everything it lists (attestation manifests too), each manifest once: image manifests first, then
   * the indexes nested in it, then the index itself, so every index is stored after what it lists.
   */
  private async withChildren(source: BlobSource, top: PulledManifest): Promise<PulledManifest[]> {
    const budget = new ManifestBudget(this.limits, top);
    const fetched = new Map<string, PulledManifest>([[top.digest, top]]);
    const images: PulledManifest[] = [];
    const nested: PulledManifest[] = [];
    for (let level = [top], depth = 1; level.length > 0; depth++) {
      const next: PulledManifest[] = [];
      for (const index of level) {
        const entries = index.document.manifests;
        const fresh = [...new Map(entries.filter((e) => !fetched.has(e.digest)).map((e) => [e.digest, e])).values()];
        budget.admit(source, index, entries, fresh);
        const children = await mapBounded(fresh, this.limits.operationFetches, (entry) => this.fetchManifest(source, entry.digest, entry.size));
        for (const child of children) {
          fetched.set(child.digest, child);
          if (child.document.kind !== 'index') images.push(child);
          else if (depth >= MAX_INDEX_DEPTH) throw nestedIndex(source, child.digest);
          else next.push(child);
        }
      }
      nested.unshift(...next);
      level = next;
    }
    return [...images, ...nested, top];
  }

  /**
   * Every blob present in the store, or the first failure; at most `operationFetches` at once for this pull (and the
   * per-registry limit across pulls). A failed pull stops the transfers only it needed.
   */
  private async transferAll(transfers: BlobFetcher, source: BlobSource, blobs: readonly Descriptor[]): Promise<void> {
    const leases: TransferLease[] = [];
    try {
      await mapBounded(blobs, this.limits.operationFetches, async (blob) => {
        const lease = transfers.fetch(source, blob);
        leases.push(lease);
        await lease.done;
      });
    } finally {
      for (const lease of leases) lease.leave();
    }
  }

  /** A single-platform image pulled for a named platform must be for that platform, when its config says. */
  private async checkImagePlatform(source: BlobSource, reference: string, config: Descriptor, choice: PlatformChoice): Promise<void> {
    if (!mediaTypes.platformConfigTypes.has(config.mediaType) || config.size > this.limits.configBytes) return;
    const platform = platformOfConfig(await this.site.blobs.read(config.digest, this.limits.configBytes));
    if (!platform || matchesPlatform(platform, choice)) return;
    throw missingPlatform(source.repository, reference, choice, [formatPlatform(platform)]);
  }

  private async store(spec: PullSpec, plan: PullPlan): Promise<PullOutcome> {
    const { repository, tag } = spec.target;
    const tagged = plan.manifests.at(-1)!;
    try {
      for (const manifest of plan.manifests.slice(0, -1)) {
        await this.site.putManifest(repository, manifest.digest, manifest.mediaType, manifest.bytes);
      }
      const result = await this.site.putManifest(repository, tag ?? tagged.digest, tagged.mediaType, tagged.bytes, {
        ...(plan.sourceIndex ? { sourceIndexDigest: plan.sourceIndex.digest } : {}),
        ...(plan.sourceIndex?.annotations ? { sourceAnnotations: plan.sourceIndex.annotations } : {}),
      });
      return {
        name: tag !== undefined ? `${repository}:${tag}` : `${repository}@${result.digest}`,
        digest: result.digest,
        tagUpdated: result.tagUpdated,
      };
    } catch (error) {
      // Only the manifests can be refused here (they were parsed as the site registry parses them): the remote's doing.
      if (isSiteRegistryError(error) && (error.code === 'MANIFEST_INVALID' || error.code === 'MANIFEST_BLOB_UNKNOWN')) {
        throw upstreamFailure(`the image ${spec.source.repository} cannot be stored: ${error.message}`, { kind: 'bad-response', code: error.code });
      }
      throw error;
    }
  }
}

/** Config and layers of every image manifest, once each; foreign layers live elsewhere and are never fetched. */
function uniqueBlobs(manifests: readonly PulledManifest[]): Descriptor[] {
  const blobs = new Map<string, Descriptor>();
  for (const { document } of manifests) {
    if (document.kind !== 'image') continue;
    for (const blob of [document.config!, ...document.layers]) {
      if (!mediaTypes.isForeignLayer(blob.mediaType) && !blobs.has(blob.digest)) blobs.set(blob.digest, blob);
    }
  }
  return [...blobs.values()];
}

function missingPlatform(repository: string, reference: string, choice: PlatformChoice, available: string[]) {
  const wanted = describePlatform(choice);
  const has = available.length > 0 ? available.join(', ') : 'no runnable image';
  return notFound(`image ${repository}${reference.includes(':') ? '@' : ':'}${reference} has no image for platform ${wanted}; it has: ${has}`, {
    platform: wanted,
    available,
  });
}

const nestedIndex = (source: BlobSource, digest: string) =>
  upstreamFailure(`registry ${source.registry}: image index ${digest} of ${source.repository} nests indexes deeper than Berth follows`, {
    kind: 'bad-response',
    registry: source.registry,
    digest,
  });
