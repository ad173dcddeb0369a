// Metrics of pull-through: what the site registry served of mirrored registries (hits: from the store; misses:
// fetched from the remote registry; stale: a tag served from the store because the remote could not be asked;
// unavailable: a miss the remote could not serve), and the bytes fetched from remote registries for it. Labelled
// by the configured registry address only (a bounded set); repositories never.
import { Counter } from '../../metrics/metrics.js';

export type PullThroughObject = 'manifest' | 'blob';
export type PullThroughOutcome = 'hit' | 'miss' | 'stale' | 'unavailable';

const requests = new Counter({
  name: 'berth_pull_through_requests_total',
  help: 'Manifests and blobs asked for through the mirror, by outcome: hit (from the site registry), miss (fetched from the remote registry), stale (a tag served from the site registry, the remote could not be asked), unavailable (neither).',
  labelNames: ['registry', 'object', 'outcome'] as const,
});
const upstreamBytes = new Counter({
  name: 'berth_pull_through_upstream_bytes_total',
  help: 'Bytes of manifests and blobs fetched from remote registries for pull-through (blobs counted once whole and verified).',
  labelNames: ['registry'] as const,
});

export const pullThroughMetrics = {
  served(registry: string, object: PullThroughObject, outcome: PullThroughOutcome): void {
    requests.inc({ registry, object, outcome });
  },
  fetched(registry: string, bytes: number): void {
    upstreamBytes.inc({ registry }, bytes);
  },
};
