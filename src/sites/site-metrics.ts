// Metrics of sites. At the control tower: how many sites it has and follow it now, how far behind the furthest one
// is, and per site (while there are at most BERTH_METRICS_SITE_SERIES sites; with more, only the aggregates) whether
// it follows and its lag; and the requests it forwarded with `?site=`, by site and the site's status. At a site:
// whether it follows its tower, and how many revisions behind it is.
import { Counter, Gauge } from '../metrics/metrics.js';
import type { ReplicationStatus } from './tower-replicator.js';

/** What the metrics read of one site at the tower. */
interface SiteState {
  name: string;
  connected: boolean;
  /** Absent until the site has called. */
  lag?: number;
}

export interface ObservedSites {
  /** BERTH_METRICS_SITE_SERIES: the most sites that get series of their own. */
  siteSeries: number;
  /** At the tower: every configured site's contact (connected, lag when it has called). */
  states(): Promise<SiteState[]>;
  /** At a site: its replication from the tower. */
  replication?: () => Promise<ReplicationStatus>;
}

let observed: ObservedSites | undefined;
/** Sites whose forwarded requests are counted under their own name (the first `siteSeries` seen). */
const forwardedSites = new Set<string>();

export function observeSites(sites: ObservedSites): void {
  if (sites.replication && !observed?.replication) replicationGauges();
  observed = sites;
}

/** The label of `site` in the forwarded-requests counter: its name for the first `siteSeries` sites, else `other`. */
function forwardedLabel(site: string): string {
  if (forwardedSites.has(site)) return site;
  if (forwardedSites.size >= (observed?.siteSeries ?? 0)) return 'other';
  forwardedSites.add(site);
  return site;
}

/**
 * Every site's state, read once per scrape: a scrape calls every gauge's collect at once, so they all join the read
 * that the first one started. A failed read (the store unavailable) shows no sites rather than failing the scrape.
 */
let reading: Promise<SiteState[]> | undefined;
const statesNow = () => {
  reading ??= (observed ? observed.states() : Promise.resolve([])).catch(() => []).finally(() => (reading = undefined));
  return reading;
};

/** The sites that get series of their own: all of them, or none when there are more than the cap. */
const perSiteStates = async () => {
  const states = await statesNow();
  return states.length > (observed?.siteSeries ?? 0) ? [] : states;
};

new Gauge({
  name: 'berth_sites',
  help: 'Sites configured at this control tower, by whether they follow its change feed now.',
  labelNames: ['state'] as const,
  async collect() {
    const states = await statesNow();
    const connected = states.filter((s) => s.connected).length;
    this.set({ state: 'connected' }, connected);
    this.set({ state: 'disconnected' }, states.length - connected);
  },
});
new Gauge({
  name: 'berth_sites_replication_lag_max_revisions',
  help: 'The largest lag of any site that has called: tower revisions it had not applied at its last call.',
  async collect() {
    const lags = (await statesNow()).flatMap((s) => (s.lag === undefined ? [] : [s.lag]));
    this.set(lags.length > 0 ? Math.max(...lags) : 0);
  },
});
/** A gauge per site (up to BERTH_METRICS_SITE_SERIES sites), its value read from the site's state at each scrape. */
function perSiteGauge(name: string, help: string, valueOf: (state: SiteState) => number | undefined): void {
  new Gauge({
    name,
    help: `Per site (up to BERTH_METRICS_SITE_SERIES sites): ${help}`,
    labelNames: ['site'] as const,
    async collect() {
      const states = await perSiteStates();
      this.reset();
      for (const state of states) {
        const value = valueOf(state);
        if (value !== undefined) this.set({ site: state.name }, value);
      }
    },
  });
}
perSiteGauge('berth_site_connected', '1 while it follows this tower\'s change feed, else 0.', (state) => (state.connected ? 1 : 0));
perSiteGauge('berth_site_replication_lag_revisions', 'tower revisions it had not applied at its last call.', (state) => state.lag);

/** At a site only: its own replication. */
function replicationGauges(): void {
  new Gauge({
    name: 'berth_replication_connected',
    help: 'At a site: 1 while its last call to its control tower succeeded, else 0.',
    async collect() {
      this.set((await observed?.replication?.())?.connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'berth_replication_lag_revisions',
    help: 'At a site: the newest tower revision it knows of minus the one it has applied (0 before its first contact).',
    async collect() {
      const { towerRevision, replicatedRevision } = (await observed?.replication?.()) ?? {};
      this.set(towerRevision !== undefined && replicatedRevision !== undefined ? Math.max(0, towerRevision - replicatedRevision) : 0);
    },
  });
}

const forwarded = new Counter({
  name: 'berth_site_forwarded_requests_total',
  help: 'Requests this tower carried out at a site (`?site=`), by site (`other` past BERTH_METRICS_SITE_SERIES sites) and the site\'s status (`unreachable`: no answer).',
  labelNames: ['site', 'status'] as const,
});

export const siteMetrics = {
  forwarded(site: string, status: number | 'unreachable'): void {
    forwarded.inc({ site: forwardedLabel(site), status: String(status) });
  },
};
