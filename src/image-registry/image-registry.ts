// The image-registry side, wired together for the app as sites/sites.ts wires the sites: the remote registries'
// configuration and state, one shared client per registry, the operations on them (verify-credentials,
// list-repositories, list-images) and the pull machinery, which the routes and a site's desired images share.
import type { Router } from 'express';
import { ConfigList, type DocumentBounds } from '../config/config-list.js';
import type { Limits } from '../limits.js';
import type { SiteRegistry } from '../registry/index.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { ConfigStore } from '../store/config-store.js';
import type { OperationDeps } from './operation-deps.js';
import { remoteRegistryOperationRoutes } from './operations/routes.js';
import { BlobProgress } from './pull/blob-progress.js';
import { BlobTransfers, DEFAULT_TRANSFER_POLICY } from './pull/blob-transfer.js';
import { pullByReference, type PullByReference } from './pull/pull-by-reference.js';
import { ImagePuller } from './pull/pull-image.js';
import { PullOperations } from './pull/pull-operations.js';
import { pullRoutes } from './pull/routes.js';
import { RegistryClients } from './registry-clients.js';
import { remoteRegistrySpec, type RemoteRegistry } from './remote-registry.js';
import { imageRegistryRoutes } from './routes.js';
import { VerificationLog } from './verification-status.js';

export interface ImageRegistryOptions {
  store: ConfigStore;
  /** The secret store holding the registries' credentials; absent when none is configured. */
  secrets: SecretStore | undefined;
  siteRegistry: SiteRegistry;
  limits: Limits;
  /** What a remote registry's document may grow to by any write. */
  documentBounds: DocumentBounds;
  /** Finished pulls kept listed at /v1/state/image-registry/pulls. */
  pullHistory: number;
}

export interface ImageRegistry {
  registries: ConfigList<RemoteRegistry>;
  /** A tracked pull named by its full reference, for code that is not a route (a site's desired images). */
  pullByReference: PullByReference;
  /** The /v1 routes: remote registries' configuration and state, their operations, pulls. */
  routes: Router[];
  /** Closes the connection pools to the remote registries. */
  close(): Promise<void>;
}

/**
 * The pull machinery of the process, one of each: the per-registry download limits, the single flights and the
 * progress of every blob being written span every pull, whether a route or a site's desired images started it.
 */
function createPullOperations(deps: Pick<OperationDeps, 'siteRegistry' | 'limits'>, history: number): PullOperations {
  const blobs = new BlobProgress();
  const transfers = new BlobTransfers(blobs.reporting(deps.siteRegistry.ingest), DEFAULT_TRANSFER_POLICY);
  return new PullOperations(new ImagePuller(deps.siteRegistry, transfers, deps.limits), transfers, blobs, { history });
}

export function createImageRegistry(options: ImageRegistryOptions): ImageRegistry {
  const { limits } = options;
  const registries = new ConfigList(options.store, remoteRegistrySpec, options.documentBounds);
  const clients = new RegistryClients(options.secrets, limits);
  const verifications = new VerificationLog();
  const deps: OperationDeps = { registries, clients, secrets: options.secrets, siteRegistry: options.siteRegistry, verifications, limits };
  const pulls = createPullOperations(deps, options.pullHistory);
  return {
    registries,
    pullByReference: pullByReference(deps, pulls),
    routes: [imageRegistryRoutes(registries, verifications), remoteRegistryOperationRoutes(deps), pullRoutes(deps, pulls)],
    close: () => clients.close(),
  };
}
