// Prometheus metrics: prom-client's default registry, which every area declares its own metrics for where its work
// happens (http/http-metrics.ts, image-registry/pull/pull-metrics.ts, registry/registry-metrics.ts,
// secrets/secret-metrics.ts, store/store-metrics.ts, sites/site-metrics.ts), and the rules their labels follow:
// every label value comes from a bounded set (templates, configured names, kinds), never a raw path, a repository
// name (unless BERTH_METRICS_REPOSITORY_LABELS allows), a secret or a token. /metrics (routes.ts) serves them.
// One Berth per process: a gauge that reads an instance at scrape time reads the one created last.
//
// prom-client (with @opentelemetry/api, 80-odd modules and a few MiB) loads at the first scrape, not at start: an
// edge site nobody scrapes never pays for it. Until then a metric is a name and a queue of its updates, replayed in
// order once prom-client is there, so the first scrape shows exactly what it would have had prom-client been loaded
// from the start. The queue is bounded: MAX_QUEUED updates without a scrape load prom-client anyway.
import type { CounterConfiguration, Counter as PromCounter, Gauge as PromGauge, GaugeConfiguration, Histogram as PromHistogram, HistogramConfiguration, Registry } from 'prom-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lazy } from '../lazy.js';

type PromClient = typeof import('prom-client');
type Labels<L extends string> = Partial<Record<L, string | number>>;

/** Updates waiting for prom-client beyond which it is loaded without waiting for a scrape (about 250 requests). */
const MAX_QUEUED = 1_000;

let prom: PromClient | undefined;
/** What to create once prom-client is loaded, in the order it was declared (the order /metrics lists them in). */
let toCreate: ((client: PromClient) => void)[] = [];
/** Updates made before prom-client was loaded, in the order they were made. */
let queued: (() => void)[] = [];

const promClient = new Lazy(async () => {
  const client = await import('prom-client');
  prom = client;
  for (const create of toCreate) create(client);
  for (const update of queued) update();
  toCreate = [];
  queued = [];
  return client;
});

/** The resolution of prom-client's event loop monitor (its default, given explicitly for the wait below). */
const EVENT_LOOP_TICK_MS = 10;
/** When prom-client's event loop monitor started (`performance.now()`), once the process metrics are registered. */
let eventLoopMonitorSince: number | undefined;

/** prom-client's registry with every metric declared so far in it, prom-client loaded now if it is not yet. */
export async function metricsRegistry(): Promise<Registry> {
  const client = await promClient.get();
  // The event loop monitor's first tick only marks the time and the second records: read sooner, its histogram is
  // empty and the first scrape would show a lag of 9.2e9 s (min) and NaN (mean). Only a scrape that loaded it waits.
  const wait = eventLoopMonitorSince === undefined ? 0 : eventLoopMonitorSince + 3 * EVENT_LOOP_TICK_MS - performance.now();
  if (wait > 0) await sleep(wait);
  return client.register;
}

function declare(create: (client: PromClient) => void): void {
  if (prom) create(prom);
  else toCreate.push(create);
}

function whenLoaded(update: () => void): void {
  queued.push(update);
  // A failed load (no file descriptor left) is tried again at the next update or scrape.
  if (queued.length >= MAX_QUEUED) promClient.get().catch(() => undefined);
}

/** One metric of prom-client's kind `M`, created in the registry once prom-client is loaded. */
abstract class LazyMetric<M> {
  protected metric: M | undefined;

  constructor(make: (client: PromClient) => M) {
    declare((client) => (this.metric = make(client)));
  }

  /** `update` now if the metric exists, else once it does. */
  protected apply(update: (metric: M) => void): void {
    const metric = this.metric;
    if (metric) update(metric);
    else whenLoaded(() => update(this.metric!));
  }
}

export class Counter<L extends string = string> extends LazyMetric<PromCounter<L>> {
  constructor(configuration: CounterConfiguration<L>) {
    super((client) => new client.Counter(configuration));
  }

  inc(labels?: Labels<L> | number, value?: number): void {
    this.apply((counter) => (typeof labels === 'object' ? counter.inc(labels, value) : counter.inc(labels)));
  }
}

/** A gauge; one with `collect` is set by it at scrape time (`this` is prom-client's gauge there). */
export class Gauge<L extends string = string> extends LazyMetric<PromGauge<L>> {
  constructor(configuration: GaugeConfiguration<L>) {
    super((client) => new client.Gauge(configuration));
  }

  inc(): void {
    this.apply((gauge) => gauge.inc());
  }

  dec(): void {
    this.apply((gauge) => gauge.dec());
  }

  set(value: number): void {
    this.apply((gauge) => gauge.set(value));
  }
}

export class Histogram<L extends string = string> extends LazyMetric<PromHistogram<L>> {
  constructor(configuration: HistogramConfiguration<L>) {
    super((client) => new client.Histogram(configuration));
  }

  observe(labels: Labels<L>, value: number): void {
    this.apply((histogram) => histogram.observe(labels, value));
  }
}

let processMetrics = false;

/**
 * Node's own metrics (CPU, memory, event loop lag, GC, handles) beside Berth's; once per process. prom-client counts
 * CPU from when they are registered, so the CPU used from this call until then is added: the counters read as they
 * would have with prom-client loaded here. The event loop and GC series start at the load.
 */
export function collectProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  const since = process.cpuUsage();
  declare((client) => {
    const used = process.cpuUsage(since);
    client.collectDefaultMetrics({ register: client.register, eventLoopMonitoringPrecision: EVENT_LOOP_TICK_MS });
    eventLoopMonitorSince = performance.now();
    const cpuCounter = (name: string) => client.register.getSingleMetric(name) as PromCounter;
    cpuCounter('process_cpu_user_seconds_total').inc(used.user / 1e6);
    cpuCounter('process_cpu_system_seconds_total').inc(used.system / 1e6);
    cpuCounter('process_cpu_seconds_total').inc((used.user + used.system) / 1e6);
  });
}

/** `value` when it is one of `known`, else `other`: a label never takes a value from outside a fixed set. */
export const bounded = (value: string, known: ReadonlySet<string>): string => (known.has(value) ? value : 'other');

/** Seconds since `start` (a `performance.now()` reading), for histograms. */
export const secondsSince = (start: number): number => (performance.now() - start) / 1000;
