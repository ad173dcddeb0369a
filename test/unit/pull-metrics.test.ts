// The label rules of the pull metrics, on prom-client's registry: the repository only with
// BERTH_METRICS_REPOSITORY_LABELS, and error kinds from a fixed set (the contract's upstream kinds and Berth's own).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metricsRegistry } from '../../src/metrics/metrics.js';
import { errorKindOf, labelPullsByRepository, pullMetrics } from '../../src/image-registry/pull/pull-metrics.js';
import { BerthError, notFound, upstreamFailure } from '../../src/errors.js';

const startedSeries = async () => (await (await metricsRegistry()).getSingleMetric('berth_pulls_started_total')!.get()).values.map((v) => v.labels);

describe('pull metric labels', () => {
  it('carry the repository only when BERTH_METRICS_REPOSITORY_LABELS allows it', async () => {
    labelPullsByRepository(false);
    pullMetrics.started('r1.example.com', 'team/private-app');
    labelPullsByRepository(true);
    pullMetrics.started('r2.example.com', 'team/app');
    labelPullsByRepository(false);
    assert.deepEqual(await startedSeries(), [{ registry: 'r1.example.com' }, { registry: 'r2.example.com', repository: 'team/app' }]);
  });

  it('name a failure by a kind from a fixed set, never by its message', () => {
    assert.equal(errorKindOf(upstreamFailure('registry x: timed out', { kind: 'timeout', registry: 'x' })), 'timeout');
    assert.equal(errorKindOf(upstreamFailure('secret s is missing', { kind: 'secret-missing' })), 'secret-missing');
    assert.equal(errorKindOf(notFound('image a:b has no platform linux/s390x')), 'not-found');
    assert.equal(errorKindOf(upstreamFailure('odd', { kind: 'made-up-by-someone-<script>' })), 'other');
    assert.equal(errorKindOf(new BerthError('upstream-failure', 'no info')), 'upstream-failure');
    assert.equal(errorKindOf(new Error('a bug')), 'internal');
    // The machine's conditions, as the errors of the file system come: not bugs.
    assert.equal(errorKindOf(Object.assign(new Error('write failed'), { code: 'ENOSPC' })), 'insufficient-storage');
    assert.equal(errorKindOf(Object.assign(new Error('open failed'), { code: 'EMFILE' })), 'unavailable');
  });
});
