// Metrics before prom-client is loaded (src/metrics/metrics.ts): nothing loads it until a scrape or 10,000
// histogram observations (counters and gauges keep a number per label set), and what was kept reads exactly as
// prom-client fed directly, call for call, reads it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { setImmediate as turn } from 'node:timers/promises';
import { Counter, Gauge, Histogram, metricsRegistry } from '../../src/metrics/metrics.js';

const require = createRequire(import.meta.url);
const promClientLoaded = () => Object.keys(require.cache).some((path) => path.includes('/node_modules/prom-client/'));

const BUCKETS = [0.01, 0.1, 1, 10];
const OBSERVED = [0.003, 0.2, 0.2, 7, 0.1, 123.456, 0.01 + 0.02];

describe('metrics before prom-client is loaded', () => {
  it('keep their updates without loading prom-client, up to 10,000 histogram observations', async () => {
    const requests = new Counter({ name: 'lazy_test_requests_total', help: 'h', labelNames: ['route', 'method'] as const });
    const runs = new Counter({ name: 'lazy_test_runs_total', help: 'h' });
    const inFlight = new Gauge({ name: 'lazy_test_in_flight', help: 'h' });
    const budget = new Gauge({ name: 'lazy_test_budget', help: 'h' });
    const duration = new Histogram({ name: 'lazy_test_duration_seconds', help: 'h', labelNames: ['route'] as const, buckets: BUCKETS });
    const feed = (m: { requests: typeof requests; runs: typeof runs; inFlight: typeof inFlight; budget: typeof budget; duration: typeof duration }) => {
      for (const value of OBSERVED) {
        m.requests.inc({ route: '/a', method: 'GET' });
        m.requests.inc({ method: 'GET', route: '/b' }, value);
        m.requests.inc({ route: '/b', method: 'GET' }, 0.1);
        m.runs.inc(value);
        m.runs.inc();
        m.inFlight.inc();
        m.duration.observe({ route: value > 1 ? '/b' : '/a' }, value);
      }
      // One series however its labels are spelled, and its sum made in the order of the calls: 1e16 + 1 is 1e16.
      m.requests.inc({ route: '/d', method: 'GET' }, 1e16);
      for (let i = 0; i < 10; i++) m.requests.inc({ method: 'GET', route: '/d' });
      m.inFlight.dec();
      m.budget.set(3);
      m.budget.set(0.5);
      for (let i = 0; i < 20_000; i++) m.requests.inc({ route: '/c', method: 'GET' });
      for (let i = OBSERVED.length; i < 9_999; i++) m.duration.observe({ route: '/c' }, i / 1000);
    };
    feed({ requests, runs, inFlight, budget, duration });
    await turn();
    assert.equal(promClientLoaded(), false, 'prom-client loaded before 10,000 observations');
    duration.observe({ route: '/c' }, 5);
    const registry = await metricsRegistry();
    assert.equal(promClientLoaded(), true);

    // The same calls on prom-client's own metrics, in a registry of their own.
    const prom = await import('prom-client');
    const direct = new prom.Registry();
    const registers = [direct];
    const directMetrics = {
      requests: new prom.Counter({ name: 'lazy_test_requests_total', help: 'h', labelNames: ['route', 'method'] as const, registers }),
      runs: new prom.Counter({ name: 'lazy_test_runs_total', help: 'h', registers }),
      inFlight: new prom.Gauge({ name: 'lazy_test_in_flight', help: 'h', registers }),
      budget: new prom.Gauge({ name: 'lazy_test_budget', help: 'h', registers }),
      duration: new prom.Histogram({ name: 'lazy_test_duration_seconds', help: 'h', labelNames: ['route'] as const, buckets: BUCKETS, registers }),
    };
    feed(directMetrics as never);
    directMetrics.duration.observe({ route: '/c' }, 5);

    assert.equal(await registry.metrics(), await direct.metrics());
    assert.match(await registry.metrics(), /^lazy_test_requests_total\{route="\/c",method="GET"\} 20000$/m);

    // Once loaded, an update goes straight to prom-client.
    inFlight.inc();
    assert.match(await registry.metrics(), /^lazy_test_in_flight 7$/m);
  });
});
