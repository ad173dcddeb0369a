// Prometheus metrics: prom-client's default registry, which every area registers its own metrics in where its work
// happens (http/http-metrics.ts, image-registry/pull/pull-metrics.ts, registry/registry-metrics.ts,
// secrets/secret-metrics.ts, store/store-metrics.ts, sites/site-metrics.ts), and the rules their labels follow:
// every label value comes from a bounded set (templates, configured names, kinds), never a raw path, a repository
// name (unless BERTH_METRICS_REPOSITORY_LABELS allows), a secret or a token. /metrics (routes.ts) serves them.
// One Berth per process: a gauge that reads an instance at scrape time reads the one created last.
import { collectDefaultMetrics, register } from 'prom-client';

export { register as metricsRegistry };

let processMetrics = false;

/** Node's own metrics (CPU, memory, event loop lag, GC, handles) beside Berth's; once per process. */
export function collectProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register });
}

/** `value` when it is one of `known`, else `other`: a label never takes a value from outside a fixed set. */
export const bounded = (value: string, known: ReadonlySet<string>): string => (known.has(value) ? value : 'other');

/** Seconds since `start` (a `performance.now()` reading), for histograms. */
export const secondsSince = (start: number): number => (performance.now() - start) / 1000;
