// What the /v2 read handlers serve from: manifests, blobs and tags of a repository. The site registry is one
// implementation; pull-through (image-registry/mirror/) is another, wrapping it: the same reads, fetched from the
// remote registry on a miss. One code path serves both, as distribution's proxy wraps its storage.
import type { Readable } from 'node:stream';
import type { BlobInfo, ByteRange } from './storage/blob-store.js';

export interface StoredManifest {
  digest: string;
  mediaType: string;
  size: number;
  subjectDigest?: string;
  /** A `Warning` header value for a manifest served stale (the remote registry could not be asked). */
  warning?: string;
}

export interface Page<T> {
  items: T[];
  /** The last item returned, when more remain after it. */
  next?: string;
}

export interface RegistryContent {
  /** The manifest a tag or digest names; NAME_UNKNOWN or MANIFEST_UNKNOWN (404) otherwise. */
  statManifest(repository: string, reference: string): Promise<StoredManifest>;
  getManifest(repository: string, reference: string): Promise<StoredManifest & { bytes: Buffer }>;
  /** A blob as seen from a repository; BLOB_UNKNOWN (404) otherwise. */
  statBlob(repository: string, digest: string): Promise<BlobInfo>;
  /**
   * The blob's bytes (or an inclusive range of them). Resolves once the first byte can be read, so a blob that
   * cannot be had is an error the caller can still answer as such.
   */
  openBlob(repository: string, digest: string, range?: ByteRange): Promise<Readable>;
  listTags(repository: string, limit: number, after?: string): Promise<Page<string>>;
}

/** A /v2 request served by pull-through. */
export interface PullThroughRoute {
  /** The repository in the remote registry: the name the handlers pass to the content. */
  name: string;
  /**
   * The content serving it, asked for once the caller may pull: NAME_UNKNOWN (404) when the upstream is not a
   * mirrored remote registry, DENIED (403) for a repository its mirror settings exclude.
   */
  content(): Promise<RegistryContent>;
}

/** Which /v2 requests pull-through serves (image-registry/mirror/ implements it; the router only asks). */
export interface PullThroughRouting {
  /**
   * For a request whose path names `name` (as sent, not yet checked against the name grammar) and whose query
   * carries containerd's `ns` (if it does): the route when pull-through serves it, undefined when the site registry
   * does. A malformed `ns` or name is a RegistryError (400). Never reaches out to any host.
   */
  route(name: string, ns: string | undefined): Promise<PullThroughRoute | undefined>;
}
