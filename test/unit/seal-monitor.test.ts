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
    assert.equal(monitor.state, 'unreachable', 'the hung look ended at its deadline');
    assert.equal(calls(), 1);
    const second = monitor.poll();
    assert.equal(calls(), 2, 'a new look, not the hung one again');
    answers[1]!('unsealed');
    await second;
    assert.equal(monitor.state, 'unsealed');
    // The hung answer arriving late changes nothing.
    answers[0]!('sealed');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(monitor.state, 'unsealed');
  });
});
