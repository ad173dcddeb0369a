// Metrics of the secret store: whether it is sealed (and its state: unsealed, sealed, unreachable) as the seal monitor
// last saw it, how long secret reads take, and the errors they meet by kind (sealed, unreachable, secret-missing,
// secret-forbidden, ...). The state gauges exist only once a secret store is configured (a seal monitor observed).
import { Counter, Gauge, Histogram, bounded, secondsSince } from '../metrics/metrics.js';
import { SEAL_STATES, type SealState } from './seal-state.js';

let monitor: { readonly state: SealState } | undefined;

/** The seal monitor of the secret store this process uses: the gauges read its state at scrape time. */
export function observeSealState(observed: { readonly state: SealState }): void {
  if (!monitor) {
    new Gauge({
      name: 'berth_secret_store_sealed',
      help: '1 while the secret store is sealed (the API answers 503), else 0.',
      collect() {
        this.set(monitor?.state === 'sealed' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'berth_secret_store_state',
      help: 'The secret store\'s state as the seal monitor last saw it: 1 for the current one of unsealed, sealed, unreachable.',
      labelNames: ['state'] as const,
      collect() {
        for (const state of SEAL_STATES) this.set({ state }, monitor?.state === state ? 1 : 0);
      },
    });
  }
  monitor = observed;
}

const ERROR_KINDS: ReadonlySet<string> = new Set(['sealed', 'unreachable', 'secret-missing', 'secret-forbidden', 'secret-store-error']);

const readDuration = new Histogram({
  name: 'berth_secret_store_read_duration_seconds',
  help: 'Time to read one secret from the secret store, by outcome (ok or error).',
  labelNames: ['outcome'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
});
const errors = new Counter({
  name: 'berth_secret_store_errors_total',
  help: 'Failed secret reads, by kind: sealed, unreachable, secret-missing, secret-forbidden, secret-store-error.',
  labelNames: ['kind'] as const,
});

export const secretMetrics = {
  /** Times a read; `kindOf` names a failure's kind. */
  async reading<T>(read: () => Promise<T>, kindOf: (error: unknown) => string): Promise<T> {
    const start = performance.now();
    try {
      const value = await read();
      readDuration.observe({ outcome: 'ok' }, secondsSince(start));
      return value;
    } catch (error) {
      readDuration.observe({ outcome: 'error' }, secondsSince(start));
      errors.inc({ kind: bounded(kindOf(error), ERROR_KINDS) });
      throw error;
    }
  },
};
