// Metrics of the configuration store: its revision (how many writes it has taken), and how long writes take by
// engine and outcome (ok, or refused: a failed condition, an absent key, the store unavailable).
import { Gauge, Histogram, secondsSince } from '../metrics/metrics.js';
import type { ConfigStore } from './config-store.js';

let observed: ConfigStore | undefined;

new Gauge({
  name: 'berth_config_store_revision',
  help: 'The configuration store\'s revision: that of its last write.',
  async collect() {
    try {
      if (observed) this.set(await observed.revision());
    } catch {
      // The store is unavailable: no sample rather than a wrong one (the scrape still answers).
      this.reset();
    }
  },
});

const writeDuration = new Histogram({
  name: 'berth_config_store_write_duration_seconds',
  help: 'Time of one write (put or delete) to the configuration store, committed durably, by engine and outcome.',
  labelNames: ['engine', 'outcome'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
});

/** `store` with its writes timed, and its revision reported at scrape time. */
export function measuredStore(store: ConfigStore, engine: 'sqlite' | 'etcd'): ConfigStore {
  observed = store;
  const timed =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const start = performance.now();
      let outcome = 'refused';
      try {
        const result = await write(...args);
        outcome = 'ok';
        return result;
      } finally {
        writeDuration.observe({ engine, outcome }, secondsSince(start));
      }
    };
  const put = timed(store.put.bind(store));
  const remove = timed(store.delete.bind(store));
  // A Proxy rather than a class listing every method: everything but the writes is the store's own, each method bound
  // once (a read is on the path of nearly every request).
  const bound = new Map<PropertyKey, unknown>([
    ['put', put],
    ['delete', remove],
  ]);
  return new Proxy(store, {
    get(target, property) {
      if (bound.has(property)) return bound.get(property);
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method: unknown = value.bind(target);
      bound.set(property, method);
      return method;
    },
  });
}
