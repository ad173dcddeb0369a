// Pull-through: the site registry as a mirror of the remote registries configured with `mirror.enabled`, for the
// site's container runtimes. It wraps the site registry's content (registry-content.ts) the way distribution's
// registry/proxy wraps its storage: the same reads, served by the same /v2 handlers, fetched on a miss.
// - Manifests: by digest, from the store when there (never asked again), else fetched; by tag, from the store when
//   it was checked with the remote registry less than `tag-recheck-seconds` ago, else checked (HEAD, then GET when
//   the tag moved). When the remote cannot be asked (down, failing, refusing Berth's credentials), a stored tag is
//   served with a `Warning` header; a miss is a 503 naming the remote registry.
// - Blobs: from the store when there; else fetched through the pull machinery's BlobTransfers (one transfer per
//   digest, shared by every client and pull, resumed and verified) and streamed to the client as it arrives
//   (blob-follower.ts). Only a verified whole blob is ever stored.
// - Names: content of `<address>/<repository>` lives in the site registry under mirror-names.ts's repository; the
//   credential is the one resolved for `<repository>` (longest prefix), as for every operation on the registry.
import type { ConfigList, Versioned } from '../../config/config-list.js';
import { isBerthError } from '../../errors.js';
import { UpstreamError, type FetchedManifest, type RegistryClient } from '../../oci/index.js';
import {
  RegistryError,
  isBlobUnknown,
  isRegistryError,
  isRepositoryName,
  requireDigest,
  parseManifestReference,
  type BlobInfo,
  type ByteRange,
  type Page,
  type PullThroughRoute,
  type PullThroughRouting,
  type RegistryContent,
  type SiteRegistry,
  type StoredManifest,
} from '../../registry/index.js';
import type { Readable } from 'node:stream';
import type { BlobProgress } from '../pull/blob-progress.js';
import type { BlobFetcher } from '../pull/pull-image.js';
import { pullMetrics } from '../pull/pull-metrics.js';
import type { RegistryClients } from '../registry-clients.js';
import { DEFAULT_TAG_RECHECK_SECONDS, type RemoteRegistry } from '../remote-registry.js';
import { anyCovers } from '../repository-pattern.js';
import { followBlob } from './blob-follower.js';
import { mirrorComponentOf, mirrorRepositoryOf, parseNamespace } from './mirror-names.js';
import { failureKindOf, type PullThroughLog } from './pull-through-log.js';

export interface PullThroughParts {
  registries: ConfigList<RemoteRegistry>;
  clients: RegistryClients;
  site: SiteRegistry;
  /** The pull machinery's transfers and the progress of what they write (image-registry.ts). */
  transfers: BlobFetcher;
  progress: BlobProgress;
  log: PullThroughLog;
  /** Called after pull-through stored a manifest or a blob: the disk budget may need enforcing. */
  stored(): void;
}

/** One mirrored repository as requests meet it. */
interface Mirrored {
  registry: RemoteRegistry;
  client: RegistryClient;
  /** The repository in the remote registry. */
  repository: string;
  /** Where its content lives in the site registry. */
  local: string;
}

const isNotFound = (error: unknown) => error instanceof UpstreamError && error.failure.kind === 'not-found';

/** A `Warning` (RFC 9111 warn-code 110) for a manifest served without asking the remote registry. */
const staleWarning = (address: string, error: unknown) => `110 berth "Response is Stale: ${address} could not be asked (${failureKindOf(error)})"`;

export class PullThrough implements PullThroughRouting {
  /** When each stored tag (`<local>:<tag>`) was last checked with its remote registry. */
  private readonly checkedAt = new Map<string, number>();
  /** Manifest lookups running now, by `<local>:<reference>`: concurrent clients share one. */
  private readonly manifestFlights = new Map<string, Promise<{ digest: string; warning?: string }>>();
  /** Blobs pull-through is fetching now, by digest: their bytes count once, however many clients are served. */
  private readonly fetching = new Set<string>();

  constructor(private readonly parts: PullThroughParts) {}

  async route(name: string, ns: string | undefined): Promise<PullThroughRoute | undefined> {
    if (ns !== undefined) {
      const address = parseNamespace(ns);
      return { name: requireName(name), content: () => this.contentFor(address, name) };
    }
    // The plain form: the first component names a mirrored registry (as a repository component, or as written).
    const slash = name.indexOf('/');
    if (slash <= 0) return undefined;
    const first = name.slice(0, slash);
    const registry = (await this.parts.registries.list()).find(
      (r) => r.value.mirror?.enabled && (r.value.address === first || mirrorComponentOf(r.value.address) === first),
    );
    if (!registry) return undefined;
    const repository = requireName(name.slice(slash + 1));
    return { name: repository, content: () => this.contentFor(registry.value.address, repository) };
  }

  /** The content of a mirrored registry, after the checks that need its configuration: 404, 403. */
  private async contentFor(address: string, repository: string): Promise<RegistryContent> {
    const registry = (await this.parts.registries.list()).find((r) => r.value.address === address);
    if (!registry?.value.mirror?.enabled) {
      throw new RegistryError('NAME_UNKNOWN', `registry ${address} is not mirrored here (no remote registry ${address} with mirror enabled)`, { registry: address });
    }
    if (!anyCovers(registry.value.mirror.repositories, repository)) {
      throw new RegistryError('DENIED', `repository ${repository} of ${address} is not mirrored here (mirror.repositories)`, { registry: address, repository });
    }
    return this.contentOf(registry);
  }

  private contentOf(registry: Versioned<RemoteRegistry>): RegistryContent {
    const mirrored = (repository: string): Mirrored => ({
      registry: registry.value,
      client: this.parts.clients.clientFor(registry),
      repository,
      local: mirrorRepositoryOf(registry.value.address, repository),
    });
    return {
      statManifest: (repository, reference) => this.manifest(mirrored(repository), reference, false),
      getManifest: (repository, reference) => this.manifest(mirrored(repository), reference, true),
      statBlob: (repository, digest) => this.statBlob(mirrored(repository), digest),
      openBlob: (repository, digest, range) => this.openBlob(mirrored(repository), digest, range),
      listTags: (repository, limit, after) => this.listTags(mirrored(repository), limit, after),
    };
  }

  // ---- manifests ----

  private manifest(m: Mirrored, reference: string, withBytes: false): Promise<StoredManifest>;
  private manifest(m: Mirrored, reference: string, withBytes: true): Promise<StoredManifest & { bytes: Buffer }>;
  private async manifest(m: Mirrored, reference: string, withBytes: boolean): Promise<StoredManifest & { bytes?: Buffer }> {
    parseManifestReference(reference);
    const key = `${m.local}:${reference}`;
    let flight = this.manifestFlights.get(key);
    if (!flight) {
      flight = this.resolveManifest(m, reference).finally(() => this.manifestFlights.delete(key));
      this.manifestFlights.set(key, flight);
    }
    const { digest, warning } = await flight;
    const stored = withBytes ? await this.parts.site.getManifest(m.local, digest) : await this.parts.site.statManifest(m.local, digest);
    this.parts.site.touchPullThrough(m.local, digest);
    return warning === undefined ? stored : { ...stored, warning };
  }

  /** The digest to serve for `reference`, fetching or checking with the remote registry as the rules say. */
  private async resolveManifest(m: Mirrored, reference: string): Promise<{ digest: string; warning?: string }> {
    const address = m.registry.address;
    const ref = parseManifestReference(reference);
    const local = await this.storedDigest(m.local, reference);
    if (ref.digest !== undefined && local !== undefined) {
      this.parts.log.hit(address, 'manifest');
      return { digest: local };
    }
    const checked = `${m.local}:${reference}`;
    const recheckMs = (m.registry.mirror?.['tag-recheck-seconds'] ?? DEFAULT_TAG_RECHECK_SECONDS) * 1000;
    if (local !== undefined && Date.now() - (this.checkedAt.get(checked) ?? -Infinity) < recheckMs) {
      this.parts.log.hit(address, 'manifest');
      return { digest: local };
    }
    try {
      // A stored tag is checked with a HEAD: only a moved tag costs the manifest's bytes.
      if (local !== undefined && (await m.client.headManifest(m.repository, reference)).digest === local) {
        this.checkedAt.set(checked, Date.now());
        this.parts.log.hit(address, 'manifest');
        return { digest: local };
      }
      const fetched = await m.client.getManifest(m.repository, reference);
      await this.storeManifest(m, reference, fetched);
      if (ref.tag !== undefined) this.checkedAt.set(checked, Date.now());
      this.parts.log.miss(address, 'manifest');
      this.parts.log.fetched(address, fetched.bytes.byteLength);
      return { digest: fetched.digest };
    } catch (error) {
      if (isNotFound(error)) {
        throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} unknown to repository ${m.repository} of ${address}`, { registry: address, repository: m.repository, reference });
      }
      if (!isUpstreamProblem(error)) throw error;
      this.parts.log.failed(address, 'manifest', m.repository, error, local === undefined);
      if (local === undefined) throw unavailable(address, `manifest ${m.repository}:${reference}`, error);
      this.parts.log.stale(address);
      return { digest: local, warning: staleWarning(address, error) };
    }
  }

  private async storedDigest(local: string, reference: string): Promise<string | undefined> {
    try {
      return (await this.parts.site.statManifest(local, reference)).digest;
    } catch (error) {
      if (isRegistryError(error) && (error.code === 'MANIFEST_UNKNOWN' || error.code === 'NAME_UNKNOWN')) return undefined;
      throw error;
    }
  }

  private async storeManifest(m: Mirrored, reference: string, fetched: FetchedManifest): Promise<void> {
    try {
      await this.parts.site.putManifest(m.local, reference, fetched.document.mediaType, fetched.bytes, { pullThrough: true });
    } catch (error) {
      if (!isRegistryError(error) || error.status >= 500) throw error;
      // The remote sent a manifest the site registry cannot keep: that is the remote's failure, not the client's.
      throw new UpstreamError(
        { kind: 'bad-response', registry: m.registry.address },
        `registry ${m.registry.address}: manifest ${m.repository}@${fetched.digest} cannot be stored: ${error.message}`,
      );
    }
    this.parts.stored();
  }

  // ---- blobs ----

  private async statBlob(m: Mirrored, digest: string): Promise<BlobInfo> {
    try {
      return await this.parts.site.statBlob(m.local, digest);
    } catch (error) {
      if (!isBlobUnknown(error)) throw error;
    }
    return { digest, size: await this.blobSize(m, digest), modifiedAt: new Date() };
  }

  /** The size of a blob the store does not have: as a stored manifest gives it, else as the remote registry says. */
  private async blobSize(m: Mirrored, digest: string): Promise<number> {
    const known = this.parts.site.referencedBlobSize(m.local, digest);
    if (known !== undefined) return known;
    let size: number | undefined;
    try {
      size = await m.client.blobSize(m.repository, digest);
    } catch (error) {
      if (!isUpstreamProblem(error)) throw error;
      this.parts.log.failed(m.registry.address, 'blob', m.repository, error, true);
      throw unavailable(m.registry.address, `blob ${m.repository}@${digest}`, error);
    }
    if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} unknown to repository ${m.repository} of ${m.registry.address}`, { digest });
    return size;
  }

  private async openBlob(m: Mirrored, digest: string, range?: ByteRange): Promise<Readable> {
    const address = m.registry.address;
    requireDigest(digest);
    try {
      const stream = await this.parts.site.openBlob(m.local, digest, range);
      this.parts.log.hit(address, 'blob');
      // Bytes a pull needed that the store had, as a pull operation counts them (a miss counts as fetched there).
      pullMetrics.blobFromStore(address, m.repository, range ? range.end - range.start + 1 : (await this.parts.site.blobs.stat(digest))?.size ?? 0);
      return stream;
    } catch (error) {
      if (!isBlobUnknown(error)) throw error;
    }
    const size = await this.blobSize(m, digest);
    // Held while this client is served: eviction leaves the image alone meanwhile.
    const release = this.parts.site.blobs.hold([digest]);
    const lease = this.parts.transfers.fetch({ client: m.client, registry: address, repository: m.repository }, { digest, size, mediaType: 'application/octet-stream' });
    const counting = !this.fetching.has(digest);
    if (counting) this.fetching.add(digest);
    const stored = lease.done.then(
      () => {
        if (counting) this.parts.log.fetched(address, size);
        this.parts.site.linkBlob(m.local, digest);
        this.parts.stored();
      },
    ).finally(() => {
      if (counting) this.fetching.delete(digest);
    });
    stored.catch(() => {});
    let fetched = false;
    try {
      const stream = await followBlob(this.parts.progress, this.parts.site.blobs, { digest, size, ...(range ? { range } : {}), done: stored }, () => {
        lease.leave();
        release();
      });
      fetched = true;
      this.parts.log.miss(address, 'blob');
      stream.once('error', (error) => {
        if (isUpstreamProblem(error)) this.parts.log.failed(address, 'blob', m.repository, error, false);
      });
      return stream;
    } catch (error) {
      if (fetched) throw error;
      if (isNotFound(error)) throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} unknown to repository ${m.repository} of ${address}`, { digest });
      if (!isUpstreamProblem(error)) throw error;
      this.parts.log.failed(address, 'blob', m.repository, error, true);
      throw unavailable(address, `blob ${m.repository}@${digest}`, error);
    }
  }

  // ---- tags ----

  /** The remote registry's tags when it answers; else those stored here, when there are any. */
  private async listTags(m: Mirrored, limit: number, after?: string): Promise<Page<string>> {
    let tags: string[];
    try {
      tags = await m.client.listTags(m.repository);
    } catch (error) {
      if (isNotFound(error)) throw new RegistryError('NAME_UNKNOWN', `repository ${m.repository} not known to ${m.registry.address}`, { name: m.repository });
      if (!isUpstreamProblem(error)) throw error;
      this.parts.log.failed(m.registry.address, 'manifest', m.repository, error, false);
      try {
        return await this.parts.site.listTags(m.local, limit, after);
      } catch {
        throw unavailable(m.registry.address, `the tags of ${m.repository}`, error);
      }
    }
    const sorted = [...new Set(tags)].sort();
    const from = after === undefined ? sorted : sorted.filter((t) => t > after);
    const items = from.slice(0, limit);
    return from.length > limit && limit > 0 ? { items, next: items.at(-1)! } : { items };
  }
}

/** A repository name of the remote registry, checked with the site registry's grammar (400 NAME_INVALID). */
function requireName(name: string): string {
  if (!isRepositoryName(name)) throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(name.slice(0, 300))}`, { name: name.slice(0, 300) });
  return name;
}

/**
 * Failures of asking the remote registry that a stored manifest may stand in for: it could not be reached, timed out,
 * failed, refused Berth's credentials, or sent something unusable; the secret store could not give the credentials.
 */
function isUpstreamProblem(error: unknown): boolean {
  if (error instanceof UpstreamError) return error.failure.kind !== 'not-found';
  // Credentials: a sealed or unreachable secret store, a missing secret, no secret store configured.
  return isBerthError(error) && !isRegistryError(error) && ['upstream-failure', 'unavailable', 'invalid-input'].includes(error.kind);
}

/** The 503 of a miss the remote registry could not serve; it names the registry and what went wrong. */
function unavailable(address: string, what: string, error: unknown): RegistryError {
  const reason = error instanceof Error ? error.message : String(error);
  return new RegistryError('UNAVAILABLE', `${what} is not in the site registry and remote registry ${address} cannot serve it: ${reason}`, {
    registry: address,
    kind: failureKindOf(error),
  });
}
