// The seal monitor never stops looking: a look at the secret store that hangs (a request stuck on a dead socket, as
// happened with 10,000 sites' connections arriving at once) counts as unreachable after its deadline, and the next
// look, once the store answers, brings /v1 back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SealState, SecretStore } from '../../src/secrets/secret-store.js';
import { SealMonitor } from '../../src/secrets/seal-monitor.js';

/** A secret store whose answers to sealState() the test hands out one by one. */
function scriptedStore(): { store: SecretStore; answers: ((state: SealState) => void)[]; calls: () => number } {
  const answers: ((state: SealState) => void)[] = [];
  let calls = 0;
  const store: SecretStore = {
    readKv2: () => Promise.reject(new Error('not used')),
    sealState: () => {
      calls++;
      return new Promise<SealState>((resolve) => answers.push(resolve));
    },
  } as unknown as SecretStore;
  return { store, answers, calls: () => calls };
}

describe('seal monitor', () => {
  it('a look that never answers counts as unreachable at its deadline, and the next look is made', async () => {
    const { store, answers, calls } = scriptedStore();
    const monitor = new SealMonitor(store, () => {}, 60_000, 50);
    await monitor.poll();
    assert.equal(monitor.state, 'unreachable', 'both looks hung and ended at their deadline');
    assert.equal(calls(), 2);
    const third = monitor.poll();
    assert.equal(calls(), 3, 'a new look, not a hung one again');
    answers[2]!('unsealed');
    await third;
    assert.equal(monitor.state, 'unsealed');
    // The hung answers arriving late change nothing.
    answers[0]!('sealed');
    answers[1]!('sealed');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(monitor.state, 'unsealed');
  });

  it('one failed look while the store served is checked by a second at once before /v1 turns to 503', async () => {
    const { store, answers, calls } = scriptedStore();
    const changes: string[] = [];
    const monitor = new SealMonitor(store, (state) => changes.push(state), 60_000, 60_000);
    const transient = monitor.poll();
    answers[0]!('unreachable');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls(), 2, 'a second look at once');
    answers[1]!('unsealed');
    await transient;
    assert.deepEqual(changes, [], 'a connection reset once is not an outage');
    const outage = monitor.poll();
    answers[2]!('unreachable');
    await new Promise((resolve) => setImmediate(resolve));
    answers[3]!('unreachable');
    await outage;
    assert.deepEqual(changes, ['unreachable']);
    // Once unreachable, one look that works brings it back; one that fails keeps it (no second look needed).
    const still = monitor.poll();
    answers[4]!('unreachable');
    await still;
    assert.equal(calls(), 5);
    const back = monitor.poll();
    answers[5]!('unsealed');
    await back;
    assert.deepEqual(changes, ['unreachable', 'unsealed']);
  });
});
