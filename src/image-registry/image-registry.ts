// The image-registry side, wired together for the app as sites/sites.ts wires the sites: the remote registries'
// configuration and state, one shared client per registry, the operations on them (verify-credentials,
// list-repositories, list-images), the pull machinery that the routes, a site's desired images and pull-through
// share, pull-through itself (the /v2 reads of mirrored registries, containerd's hosts.toml) and the site's retention
// under its disk budget.
import type { Router } from 'express';
import type { Logger } from 'pino';
import { ConfigList, type DocumentBounds } from '../config/config-list.js';
import { ConfigObject } from '../config/config-object.js';
import type { Limits } from '../limits.js';
import type { SiteRegistry } from '../registry/index.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { ConfigStore } from '../store/config-store.js';
import { PullThrough } from './mirror/pull-through.js';
import { PullThroughLog } from './mirror/pull-through-log.js';
import { containerdHostsRoutes, type ContainerdHostsOptions } from './mirror/routes.js';
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
import { RetentionRunner } from './retention/retention-runner.js';
import { siteRetentionRoutes } from './retention/routes.js';
import { siteRetentionSpec } from './retention/site-retention.js';
import { imageRegistryRoutes } from './routes.js';
import { VerificationLog } from './verification-status.js';

export interface ImageRegistryOptions {
  store: ConfigStore;
  /** The secret store holding the registries' credentials; absent when none is configured. */
  secrets: SecretStore | undefined;
  siteRegistry: SiteRegistry;
  limits: Limits;
  /** What a remote registry's document (and the retention object) may grow to by any write. */
  documentBounds: DocumentBounds;
  /** Finished pulls kept listed at /v1/state/image-registry/pulls. */
  pullHistory: number;
  /** This Berth's name among sites: retention's per-site overrides, containerd's hosts. */
  siteName: string;
  logger: Logger;
  /** How runtimes reach the site registry, for the hosts.toml of each mirrored registry. */
  containerdHosts: Omit<ContainerdHostsOptions, 'siteName'>;
}

export interface ImageRegistry {
  registries: ConfigList<RemoteRegistry>;
  /** A tracked pull named by its full reference, for code that is not a route (a site's desired images). */
  pullByReference: PullByReference;
  /** What the /v2 router serves the mirrored registries' requests with. */
  pullThrough: PullThrough;
  /** The /v1 routes: remote registries' configuration and state, their operations, pulls, containerd hosts, retention. */
  routes: Router[];
  /** Stops retention's timer and closes the connection pools to the remote registries. */
  close(): Promise<void>;
}

/** The pull machinery of the process, one of each: the single flights and the progress of every blob being written. */
function createPullMachinery(deps: Pick<OperationDeps, 'siteRegistry' | 'limits'>, history: number) {
  const progress = new BlobProgress();
  const transfers = new BlobTransfers(progress.reporting(deps.siteRegistry.ingest), DEFAULT_TRANSFER_POLICY);
  const operations = new PullOperations(new ImagePuller(deps.siteRegistry, transfers, deps.limits), transfers, progress, { history });
  return { operations, transfers, progress };
}

export function createImageRegistry(options: ImageRegistryOptions): ImageRegistry {
  const { limits, siteRegistry, store, documentBounds } = options;
  const registries = new ConfigList(store, remoteRegistrySpec, documentBounds);
  const clients = new RegistryClients(options.secrets, limits);
  const verifications = new VerificationLog();
  const deps: OperationDeps = { registries, clients, secrets: options.secrets, siteRegistry, verifications, limits };
  const pulls = createPullMachinery(deps, options.pullHistory);
  // Retention under the disk budget runs after each pull-through store, on its timer and when its configuration changes.
  const retention = new ConfigObject(store, siteRetentionSpec, documentBounds);
  const retentionRunner = new RetentionRunner({ store, retention, site: siteRegistry, siteName: options.siteName, logger: options.logger.child({ component: 'retention' }) });
  retentionRunner.start().catch((err: unknown) => options.logger.warn({ err }, 'retention under the disk budget did not start'));
  const pullThroughLog = new PullThroughLog();
  const pullThrough = new PullThrough({
    registries,
    clients,
    site: siteRegistry,
    transfers: pulls.transfers,
    progress: pulls.progress,
    log: pullThroughLog,
    stored: () => void retentionRunner.request('pull-through'),
  });
  return {
    registries,
    pullByReference: pullByReference(deps, pulls.operations),
    pullThrough,
    routes: [
      imageRegistryRoutes(registries, verifications, pullThroughLog),
      remoteRegistryOperationRoutes(deps),
      pullRoutes(deps, pulls.operations),
      containerdHostsRoutes(registries, { ...options.containerdHosts, siteName: options.siteName }),
      siteRetentionRoutes(retention, retentionRunner),
    ],
    close: async () => {
      retentionRunner.stop();
      await clients.close();
    },
  };
}
