// Metrics of the site registry: what its store holds (bytes and blobs, counted at scrape time, again only after a
// blob was added or removed), uploads open now, and garbage collection (runs, bytes freed, blobs removed).
import { Counter, Gauge } from '../metrics/metrics.js';

/** What the gauges read at scrape time: the site registry this process serves. */
export interface ObservedSiteRegistry {
  storageUsage(): Promise<{ blobs: number; bytes: number }>;
  readonly uploadsInFlight: number;
}

let observed: ObservedSiteRegistry | undefined;

export function observeSiteRegistry(registry: ObservedSiteRegistry): void {
  observed = registry;
}

new Gauge({
  name: 'berth_site_registry_stored_bytes',
  help: 'Bytes of every blob in the site registry\'s store (layers, configs, manifests).',
  async collect() {
    this.set((await observed?.storageUsage())?.bytes ?? 0);
  },
});
new Gauge({
  name: 'berth_site_registry_stored_blobs',
  help: 'Blobs in the site registry\'s store.',
  async collect() {
    this.set((await observed?.storageUsage())?.blobs ?? 0);
  },
});
new Gauge({
  name: 'berth_site_registry_uploads_in_flight',
  help: 'Blob upload sessions of the /v2 protocol open now.',
  collect() {
    this.set(observed?.uploadsInFlight ?? 0);
  },
});

const gcRuns = new Counter({ name: 'berth_site_registry_gc_runs_total', help: 'Garbage collections of the site registry run.' });
const gcFreedBytes = new Counter({ name: 'berth_site_registry_gc_freed_bytes_total', help: 'Bytes garbage collection freed.' });
const gcRemovedBlobs = new Counter({ name: 'berth_site_registry_gc_removed_blobs_total', help: 'Blobs garbage collection removed.' });

export const registryMetrics = {
  collectedGarbage(removedBlobs: number, bytesFreed: number): void {
    gcRuns.inc();
    gcFreedBytes.inc(bytesFreed);
    gcRemovedBlobs.inc(removedBlobs);
  },
};
