// Metrics of pulls: pulls started and finished (done, failed by error kind, stopped), single-flight joins (a pull
// joining an identical one, a blob transfer shared by pulls), bytes fetched from remote registries against bytes
// found already in the site registry's store, and how long each blob transfer took. Labelled by the configured
// registry address; by repository too only with BERTH_METRICS_REPOSITORY_LABELS (repository names are unbounded).
import { Counter, Histogram, bounded, secondsSince } from '../../metrics/metrics.js';
import { BerthError, resourceExhaustion } from '../../errors.js';
import { componentSchema } from '../../contract/openapi.js';

let repositoryLabels = false;

/** BERTH_METRICS_REPOSITORY_LABELS: whether pull metrics carry the repository pulled from. */
export function labelPullsByRepository(allowed: boolean): void {
  repositoryLabels = allowed;
}

const where = (registry: string, repository: string) => (repositoryLabels ? { registry, repository } : { registry });

/** The error kinds a failed pull is counted under: the contract's upstream kinds and Berth's own; `other` beside. */
const ERROR_KINDS: ReadonlySet<string> = new Set([
  ...(componentSchema('VerifyCredentialsErrorType').enum as string[]),
  'invalid-input',
  'not-found',
  'upstream-failure',
  'unavailable',
  'insufficient-storage',
  'internal',
]);

/** What went wrong, as a bounded label: an upstream failure's kind (error-info), else the error's own kind. */
export function errorKindOf(error: unknown): string {
  const known = error instanceof BerthError ? error : resourceExhaustion(error);
  if (!known) return 'internal';
  const upstream = known.info?.kind;
  return bounded(typeof upstream === 'string' ? upstream : known.kind, ERROR_KINDS);
}

const started = new Counter({
  name: 'berth_pulls_started_total',
  help: 'Pulls started (a request joining an identical running pull starts none).',
  labelNames: ['registry', 'repository'] as const,
});
const finished = new Counter({
  name: 'berth_pulls_finished_total',
  help: 'Pulls finished: outcome done, failed (with error_kind) or stopped (nobody waited for it any more).',
  labelNames: ['registry', 'repository', 'outcome', 'error_kind'] as const,
});
const joins = new Counter({
  name: 'berth_pull_single_flight_joins_total',
  help: 'Work shared instead of repeated: level pull (a request joined an identical running pull), level blob (a pull joined a running transfer of the blob).',
  labelNames: ['registry', 'level'] as const,
});
const blobBytes = new Counter({
  name: 'berth_pull_blob_bytes_total',
  help: 'Bytes of blobs pulls needed, by source: fetched from the remote registry, or store (the site registry had them).',
  labelNames: ['registry', 'repository', 'source'] as const,
});
const transferDuration = new Histogram({
  name: 'berth_pull_blob_transfer_duration_seconds',
  help: 'Time to download one blob from a remote registry into the store (retries included), by outcome.',
  labelNames: ['registry', 'outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
});

export const pullMetrics = {
  started(registry: string, repository: string): void {
    started.inc(where(registry, repository));
  },
  finished(registry: string, repository: string, outcome: 'done' | 'failed' | 'stopped', error?: unknown): void {
    finished.inc({ ...where(registry, repository), outcome, ...(outcome === 'failed' ? { error_kind: errorKindOf(error) } : {}) });
  },
  joined(registry: string, level: 'pull' | 'blob'): void {
    joins.inc({ registry, level });
  },
  blobFromStore(registry: string, repository: string, bytes: number): void {
    blobBytes.inc({ ...where(registry, repository), source: 'store' }, bytes);
  },
  /** Times `download` of a blob of `bytes`; its bytes count as fetched when it arrived whole. */
  async downloading(registry: string, repository: string, bytes: number, download: () => Promise<void>): Promise<void> {
    const start = performance.now();
    let arrived = false;
    try {
      await download();
      arrived = true;
    } finally {
      transferDuration.observe({ registry, outcome: arrived ? 'done' : 'failed' }, secondsSince(start));
      if (arrived) blobBytes.inc({ ...where(registry, repository), source: 'fetched' }, bytes);
    }
  },
};
