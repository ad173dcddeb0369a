// Prometheus metrics: prom-client's default registry, which every area declares its own metrics for where its work
// happens (http/http-metrics.ts, image-registry/pull/pull-metrics.ts, registry/registry-metrics.ts,
// secrets/secret-metrics.ts, store/store-metrics.ts, sites/site-metrics.ts), and the rules their labels follow:
// every label value comes from a bounded set (templates, configured names, kinds), never a raw path, a repository
// name (unless BERTH_METRICS_REPOSITORY_LABELS allows), a secret or a token. /metrics (routes.ts) serves them.
// One Berth per process: a gauge that reads an instance at scrape time reads the one created last.
//
// prom-client (with @opentelemetry/api, 80-odd modules and a few MiB) loads at the first scrape, not at start: an
// edge site nobody scrapes does not pay for it. Until then a metric keeps its updates as plain numbers (a counter's
// and a gauge's value per label set, a histogram's observations) and hands them to prom-client's metric when that is
// created, so the first scrape shows exactly what it would have had prom-client been loaded from the start. Counters
// and gauges take no more room as updates come (their label sets are bounded, see above); MAX_OBSERVATIONS
// histogram observations without a scrape load prom-client anyway.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CounterConfiguration, Counter as PromCounter, Gauge as PromGauge, GaugeConfiguration, Histogram as PromHistogram, HistogramConfiguration, Registry } from 'prom-client';
import { Lazy } from '../lazy.js';

type PromClient = typeof import('prom-client');
type Labels<L extends string> = Partial<Record<L, string | number>>;

/** Histogram observations waiting for prom-client beyond which it is loaded without waiting for a scrape (80 KB). */
const MAX_OBSERVATIONS = 10_000;

let prom: PromClient | undefined;
/** What to create once prom-client is loaded, in the order it was declared (the order /metrics lists them in). */
let toCreate: ((client: PromClient) => void)[] = [];
let observationsWaiting = 0;

const promClient = new Lazy(async () => {
  const client = await import('prom-client');
  prom = client;
  for (const create of toCreate) create(client);
  toCreate = [];
  observationsWaiting = 0;
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

/** A metric's updates before prom-client is loaded: one entry per label set, keyed by sorted label name as prom-client keys its series. */
class Series<L extends string, V> {
  private readonly byKey = new Map<string, { labels: Labels<L>; value: V }>();

  constructor(private readonly initial: () => V) {}

  of(labels: Labels<L>): { labels: Labels<L>; value: V } {
    const key = Object.keys(labels).sort().map((name) => `${name}:${labels[name as L]}`).join(',');
    let series = this.byKey.get(key);
    if (!series) this.byKey.set(key, (series = { labels, value: this.initial() }));
    return series;
  }

  /** Each label set's updates, in the order the label sets first came (the order prom-client lists its series in). */
  [Symbol.iterator]() {
    return this.byKey.values();
  }
}

/** One metric of prom-client's kind `M`, created in the registry with what it was given so far once prom-client is loaded. */
abstract class LazyMetric<M, L extends string, V> {
  protected metric: M | undefined;
  protected waiting: Series<L, V> | undefined;

  constructor(make: (client: PromClient) => M, initial: () => V, handOver: (metric: M, labels: Labels<L>, value: V) => void) {
    this.waiting = new Series(initial);
    declare((client) => {
      const metric = make(client);
      for (const { labels, value } of this.waiting!) handOver(metric, labels, value);
      this.waiting = undefined;
      this.metric = metric;
    });
  }
}

export class Counter<L extends string = string> extends LazyMetric<PromCounter<L>, L, number> {
  constructor(configuration: CounterConfiguration<L>) {
    super((client) => new client.Counter(configuration), () => 0, (counter, labels, value) => counter.inc(labels, value));
  }

  inc(labels?: Labels<L> | number, value?: number): void {
    const by = typeof labels === 'number' ? labels : (value ?? 1);
    const where = typeof labels === 'object' ? labels : {};
    if (this.metric) this.metric.inc(where, by);
    else this.waiting!.of(where).value += by;
  }
}

/** A gauge; one with `collect` is set by it at scrape time (`this` is prom-client's gauge there). */
export class Gauge<L extends string = string> extends LazyMetric<PromGauge<L>, L, number> {
  constructor(configuration: GaugeConfiguration<L>) {
    super((client) => new client.Gauge(configuration), () => 0, (gauge, labels, value) => gauge.set(labels, value));
  }

  inc(): void {
    if (this.metric) this.metric.inc();
    else this.waiting!.of({}).value += 1;
  }

  dec(): void {
    if (this.metric) this.metric.dec();
    else this.waiting!.of({}).value -= 1;
  }

  set(value: number): void {
    if (this.metric) this.metric.set(value);
    else this.waiting!.of({}).value = value;
  }
}

export class Histogram<L extends string = string> extends LazyMetric<PromHistogram<L>, L, number[]> {
  constructor(configuration: HistogramConfiguration<L>) {
    super(
      (client) => new client.Histogram(configuration),
      () => [],
      (histogram, labels, values) => values.forEach((value) => histogram.observe(labels, value)),
    );
  }

  observe(labels: Labels<L>, value: number): void {
    if (this.metric) return this.metric.observe(labels, value);
    this.waiting!.of(labels).value.push(value);
    // A failed load (no file descriptor left) is tried again at the next observation or scrape.
    if (++observationsWaiting >= MAX_OBSERVATIONS) promClient.get().catch(() => undefined);
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
