// Metrics before prom-client is loaded (src/metrics/metrics.ts): nothing loads it until a scrape or 1,000 queued
// updates, and what was queued reads exactly as prom-client fed directly, call for call, reads it.
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
  it('queue their updates without loading prom-client, up to 1,000 of them', async () => {
    const requests = new Counter({ name: 'lazy_test_requests_total', help: 'h', labelNames: ['route'] as const });
    const inFlight = new Gauge({ name: 'lazy_test_in_flight', help: 'h' });
    const duration = new Histogram({ name: 'lazy_test_duration_seconds', help: 'h', labelNames: ['route'] as const, buckets: BUCKETS });
    for (const value of OBSERVED) {
      requests.inc({ route: '/a' });
      requests.inc({ route: '/b' }, value);
      inFlight.inc();
      duration.observe({ route: '/a' }, value);
    }
    inFlight.dec();
    assert.equal(promClientLoaded(), false, 'prom-client loaded by an update');

    // 7 x 4 + 1 updates so far; the 1,000th starts the load.
    for (let i = 29; i < 999; i++) requests.inc({ route: '/c' });
    await turn();
    assert.equal(promClientLoaded(), false, 'prom-client loaded before 1,000 updates');
    requests.inc({ route: '/c' });
    const registry = await metricsRegistry();
    assert.equal(promClientLoaded(), true);

    // The same calls on prom-client's own metrics, in a registry of their own.
    const prom = await import('prom-client');
    const direct = new prom.Registry();
    const directRequests = new prom.Counter({ name: 'lazy_test_requests_total', help: 'h', labelNames: ['route'] as const, registers: [direct] });
    const directInFlight = new prom.Gauge({ name: 'lazy_test_in_flight', help: 'h', registers: [direct] });
    const directDuration = new prom.Histogram({ name: 'lazy_test_duration_seconds', help: 'h', labelNames: ['route'] as const, buckets: BUCKETS, registers: [direct] });
    for (const value of OBSERVED) {
      directRequests.inc({ route: '/a' });
      directRequests.inc({ route: '/b' }, value);
      directInFlight.inc();
      directDuration.observe({ route: '/a' }, value);
    }
    directInFlight.dec();
    for (let i = 29; i < 1000; i++) directRequests.inc({ route: '/c' });

    assert.equal(await registry.metrics(), await direct.metrics());
    assert.match(await registry.metrics(), /^lazy_test_requests_total\{route="\/c"\} 971$/m);

    // Once loaded, an update goes straight to prom-client.
    inFlight.set(42);
    assert.match(await registry.metrics(), /^lazy_test_in_flight 42$/m);
  });
});
