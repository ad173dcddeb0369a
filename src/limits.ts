// The bounds on what one request, one operation or one client may make Berth hold or do: every place where a small
// input could make Berth fetch, store or compute much more. Each is a setting (settings.ts, README) with a default
// that real images and real clients stay far below; going past one is a clear 4xx or 502 naming it.

export interface Limits {
  /** Largest manifest or index read whole: fetched by a pull or list-images, or pushed to /v2. */
  manifestBytes: number;
  /** Largest image config read whole to learn an image's platform. */
  configBytes: number;
  /**
   * Most entries one manifest lists (an index's manifests, an image's layers) for Berth to store or pull it, and most
   * manifests one pull fetches below the image it names (an index's entries, and theirs).
   */
  manifestEntries: number;
  /** Most bytes of manifests one pull holds in all (the index and every manifest below it). */
  pullManifestBytes: number;
  /** Fetches one operation (a pull, a list-images) has in flight at once. */
  operationFetches: number;
  /** Requests in flight to one remote registry at once, across every operation (its connection pool). */
  remoteFetches: number;
  /** Most operations in one JSON Patch. */
  patchOperations: number;
  /** /v2 upload sessions open at once, in all. */
  uploadSessions: number;
  /** /v2 upload sessions open at once for one token. */
  uploadSessionsPerToken: number;
  /** An upload session that receives nothing for this long is cancelled and its bytes removed. */
  uploadIdleMs: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Limits = {
  // Registries themselves refuse manifests over 4 MiB (distribution, zot, Docker Hub).
  manifestBytes: 4 * MiB,
  // Configs are kilobytes; a long history makes them tens of kilobytes.
  configBytes: 4 * MiB,
  // The largest multi-platform images list a few dozen entries with their attestations; images have at most
  // 127 layers in docker (the overlay mount's limit).
  manifestEntries: 256,
  pullManifestBytes: 16 * MiB,
  operationFetches: 6,
  remoteFetches: 6,
  patchOperations: 1000,
  uploadSessions: 256,
  // docker and containerd push 3 to 5 layers at once; a CI runner sharing a token may run a few pushes.
  uploadSessionsPerToken: 32,
  uploadIdleMs: 15 * 60_000,
};
