// Sites, wired together for the app: at every Berth the sites list and states, desired images and their readiness,
// `?sites=` fan-out, `?site=` forwarding and the change feed; at a site (BERTH_TOWER_URL) also the replicator following
// the tower, the reconciler pulling the desired images and reporting them, and the 403 on config writes.
import type { RequestHandler, Router } from 'express';
import type { Logger } from 'pino';
import { ConfigList, type DocumentBounds } from '../config/config-list.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { ConfigStore } from '../store/config-store.js';
import { ChangeFeed } from './change-feed.js';
import { siteRoutes, type ReplicationStateAnswer } from './routes.js';
import { siteSpec, type Site } from './site.js';
import { SiteConnections } from './site-connections.js';
import { SiteContacts } from './site-contacts.js';
import { SiteForwarder, siteForwarding } from './site-forwarding.js';
import { SiteStates } from './site-states.js';
import { TowerClient, type TowerSettings } from './tower-client.js';
import { towerManagedConfig } from './tower-managed-config.js';
import { DEFAULT_REPLICATOR_OPTIONS, TowerReplicator, type ReplicatorOptions } from './tower-replicator.js';
import { FanOut, type FanOutOptions } from './fan-out.js';
import { fanOutRoute } from './fan-out-route.js';
import type { RemoteRegistry } from '../image-registry/remote-registry.js';
import type { PullByReference } from '../image-registry/pull/pull-by-reference.js';
import type { SiteRegistry } from '../registry/index.js';
import { siteImagesSpec, type SiteImages } from './site-images.js';
import { DEFAULT_RECONCILER_OPTIONS, SiteImageReconciler, type ReconcilerOptions } from './site-image-reconciler.js';
import { SiteReporter } from './site-reporter.js';
import { SiteReports } from './site-reports.js';
import { LocalSiteImagesStates, TowerSiteImagesStates } from './site-images-states.js';
import { observeSites } from './site-metrics.js';

export interface SitesOptions {
  store: ConfigStore;
  /** The secret store holding the tokens the tower presents at its sites. */
  secrets: SecretStore | undefined;
  logger: Logger;
  /** BERTH_SITE_NAME: this Berth's own name. */
  siteName: string;
  /** Set at a site: the tower it follows. */
  tower?: TowerSettings | undefined;
  /** BERTH_SITES_ALLOW_HTTP: sites' api-urls may be http:// (the tower's token for a site then travels in clear). */
  allowHttp: boolean;
  replicator?: ReplicatorOptions;
  /** `?sites=`: sites called at once and each one's time limit (BERTH_FANOUT_CONCURRENCY, BERTH_FANOUT_TIMEOUT). */
  fanOut?: FanOutOptions;
  /** What desired images need: the remote registries they name, and at a site the pull machinery and its registry. */
  siteImages: {
    registries: ConfigList<RemoteRegistry>;
    pull: PullByReference;
    siteRegistry: SiteRegistry;
    reconciler?: Partial<ReconcilerOptions>;
  };
  /** How large a site entry may grow, and how many operations a JSON Patch of one may have. */
  documentBounds?: DocumentBounds;
  /** BERTH_METRICS_SITE_SERIES: with more sites than this, metrics show only aggregates of them. */
  metricsSiteSeries: number;
}

export const DEFAULT_FAN_OUT_OPTIONS: FanOutOptions = { concurrency: 32, timeoutMs: 30_000 };

export interface Sites {
  /** For /v1 after access control and before body parsing: (at a site) the 403 on config writes. */
  beforeBody: RequestHandler[];
  /** For /v1 after contract validation, before the routes: `?sites=` fan-out, then `?site=` forwarding. */
  forwarding: RequestHandler[];
  /** Carries a request out at a site (`?site=`): for the plain GETs answered without Express (http/plain-reads.ts). */
  forwarder: SiteForwarder;
  routes: Router;
  /** The configuration lists of sites, for the reads answered without Express (http/plain-reads.ts). */
  lists: { sites: ConfigList<Site>; siteImages: ConfigList<SiteImages> };
  /** Ends the change feed's long-polls at once: the server is shutting down. */
  drain(): void;
  close(): Promise<void>;
}

export function createSites(options: SitesOptions): Sites {
  const { store, siteName, tower } = options;
  const sites = new ConfigList<Site>(store, siteSpec(siteName, options.allowHttp), options.documentBounds);
  const connections = new SiteConnections(sites, options.secrets, options.allowHttp);
  const forwarder = new SiteForwarder(siteName, connections);
  const contacts = new SiteContacts();
  const feed = new ChangeFeed(store);
  const replicatorOptions = options.replicator ?? DEFAULT_REPLICATOR_OPTIONS;
  const siteImages = new ConfigList<SiteImages>(store, siteImagesSpec(options.siteImages.registries), options.documentBounds);
  const reports = new SiteReports();

  // At a site: the desired images meant for it are pulled here, and their state reported to the tower.
  const towerClient = tower ? new TowerClient(tower, siteName, replicatorOptions.waitSeconds) : undefined;
  let reconciler: SiteImageReconciler | undefined;
  let reporter: SiteReporter | undefined;
  if (towerClient) {
    const logger = options.logger.child({ component: 'site-images' });
    reconciler = new SiteImageReconciler(store, siteName, options.siteImages.pull, options.siteImages.siteRegistry, logger, {
      ...DEFAULT_RECONCILER_OPTIONS,
      ...options.siteImages.reconciler,
    }, () => reporter?.changed());
    const selected = reconciler;
    reporter = new SiteReporter(towerClient, () => selected.report(), logger);
    reconciler.start().catch((e: unknown) => logger.error({ err: e }, 'cannot follow the desired images of this site'));
  }
  const replicator = towerClient
    ? new TowerReplicator(store, towerClient, options.logger.child({ component: 'replication' }), replicatorOptions, () => reporter?.towerWants())
    : undefined;
  replicator?.start();
  const siteImagesStates = reconciler
    ? new LocalSiteImagesStates(siteImages, siteName, () => reconciler.report())
    : new TowerSiteImagesStates(siteImages, sites, contacts, reports);
  const states = new SiteStates(sites, contacts, store);
  observeSites({
    siteSeries: options.metricsSiteSeries,
    states: async () => (await states.list()).states,
    ...(replicator ? { replication: () => replicator.state() } : {}),
  });

  const replicationState = async (): Promise<ReplicationStateAnswer> => {
    if (!replicator || !tower) {
      const revision = await store.revision();
      return { 'site-name': siteName, role: 'control-tower', connected: true, 'replicated-revision': revision, 'tower-revision': revision, lag: 0 };
    }
    const status = await replicator.state();
    const replicated = status.replicatedRevision;
    const towerRevision = status.towerRevision;
    return {
      'site-name': siteName,
      role: 'site',
      'tower-url': tower.url,
      connected: status.connected,
      ...(status.lastContact ? { 'last-contact': status.lastContact.toISOString() } : {}),
      ...(replicated !== undefined ? { 'replicated-revision': replicated } : {}),
      ...(towerRevision !== undefined ? { 'tower-revision': towerRevision } : {}),
      ...(replicated !== undefined && towerRevision !== undefined ? { lag: Math.max(0, towerRevision - replicated) } : {}),
      ...(status.lastError ? { 'last-error': status.lastError } : {}),
    };
  };

  return {
    beforeBody: tower ? [towerManagedConfig(siteName, tower.url)] : [],
    forwarding: [fanOutRoute(sites, new FanOut(connections, options.fanOut ?? DEFAULT_FAN_OUT_OPTIONS), siteName), siteForwarding(forwarder)],
    forwarder,
    routes: siteRoutes({ sites, states, contacts, feed, replicationState, siteImages, siteImagesStates, reports }),
    lists: { sites, siteImages },
    drain: () => feed.drain(),
    async close() {
      feed.drain();
      reconciler?.stop();
      reporter?.stop();
      await Promise.all([replicator?.stop(), connections.close(), feed.close()]);
    },
  };
}
