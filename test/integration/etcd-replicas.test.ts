// Two Berth replicas on one 3-member etcd cluster, through real HTTP: a stream of writes through both while the etcd
// leader is killed with SIGKILL; writes must succeed again within a bound once a new leader is elected; then every
// acknowledged write reads back through both, and every write whose answer was lost reads back whole or absent;
// ETags across replicas; tokens.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api, type ApiResponse } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd-cluster.js';

const LIST = '/v1/config/image-registry/remote-registries';
const TOKENS = '/v1/config/system/tokens';
const ANY = '/v1/config/image-registry/remote-registries';

let cluster: EtcdCluster;
let replicaA: BerthProcess;
let replicaB: BerthProcess;
let a: Api;
let b: Api;

before(async () => {
  cluster = await startEtcdCluster({ members: 3 });
  const adminToken = `replica-admin-${randomBytes(12).toString('hex')}`;
  const env = { BERTH_STORE: 'etcd', BERTH_ETCD_ENDPOINTS: cluster.endpointList, BERTH_ADMIN_TOKEN: adminToken };
  [replicaA, replicaB] = await Promise.all([startBerth({ adminToken, env }), startBerth({ adminToken, env })]);
  a = new Api(replicaA.url, adminToken, assertMatchesContract);
  b = new Api(replicaB.url, adminToken, assertMatchesContract);
});

after(async () => {
  const codes = await Promise.all([replicaA?.stop(), replicaB?.stop()]);
  await cluster?.stop();
  assert.deepEqual(codes, [0, 0]);
});

const registry = (address: string, secret: string) => ({ address, credentials: [{ repository: '*', vault: 'myvault', secret }] });

/** Polls `check` until it holds, at most 20 s (a guard against hanging, not a timing check); answers how long it took. */
async function within(check: () => Promise<boolean>, what: string): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > 20_000) assert.fail(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - start;
}

describe('two replicas on one etcd cluster', () => {
  it('every write acknowledged through either replica, while the etcd leader is SIGKILLed, reads back the same from both', async (t) => {
    const REGISTRIES = 150;
    const WORKERS = 6;
    /** Writes succeed again this soon after a new leader is elected: a floor for a loaded machine, not a timing check. */
    const RECOVERY_BOUND_MS = 30_000;
    /** Per address: its last acknowledged write, and every body a write whose answer was lost may have left. */
    const outcomes = new Map<string, { acked?: { body: unknown; etag: string }; unanswered: unknown[] }>();
    const statuses = new Map<number, number>();
    let done = 0;
    const count = (res: ApiResponse) => statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);

    // Each registry: created through one replica, then replaced through the other with If-Match on the first ETag.
    const writeRegistry = async (i: number) => {
      const address = `replica${i}.example.com:${5000 + i}`;
      const outcome: { acked?: { body: unknown; etag: string }; unanswered: unknown[] } = { unanswered: [] };
      outcomes.set(address, outcome);
      const [first, second] = i % 2 ? [a, b] : [b, a];
      const created = registry(address, `created-${i}`);
      const res1 = await first.put(`${LIST}/${address}`, created);
      count(res1);
      if (res1.status !== 201) {
        outcome.unanswered.push(created);
        return;
      }
      outcome.acked = { body: created, etag: res1.headers.get('etag')! };
      const replaced = registry(address, `replaced-${i}`);
      const res2 = await second.put(`${LIST}/${address}`, replaced, { headers: { 'if-match': res1.headers.get('etag')! } });
      count(res2);
      if (res2.status === 204) outcome.acked = { body: replaced, etag: res2.headers.get('etag')! };
      else outcome.unanswered.push(replaced);
      done++;
    };

    let next = 0;
    let killed: number | undefined;
    let recovery: Promise<number> | undefined;
    /** After the kill: once a new leader is elected, how long until a write through each replica succeeds again. */
    const recovered = async (): Promise<number> => {
      const elected = await cluster.leader();
      assert.notEqual(elected, killed, 'a new leader');
      const since = performance.now();
      for (const [name, replica] of [['A', a], ['B', b]] as const) {
        for (let attempt = 0; ; attempt++) {
          const probe = `probe-${name}-${attempt}.example.com`;
          const res = await replica.put(`${LIST}/${probe}`, registry(probe, 'probe'));
          if (res.status === 201) break;
          assert.equal(res.status, 503, res.text);
          assert.ok(performance.now() - since < RECOVERY_BOUND_MS, `writes through replica ${name} still fail ${RECOVERY_BOUND_MS / 1000} s after a new leader was elected`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      return performance.now() - since;
    };
    const worker = async () => {
      for (let i = next++; i < REGISTRIES; i = next++) {
        await writeRegistry(i);
        if (killed === undefined && done >= REGISTRIES / 3) {
          killed = -1;
          killed = await cluster.leader();
          await cluster.kill(killed);
          t.diagnostic(`SIGKILLed etcd member ${cluster.members[killed]!.name} (the leader) after ${done} registries`);
          recovery = recovered();
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: WORKERS }, worker));
    t.diagnostic(`${REGISTRIES * 2} writes in ${Math.round(performance.now() - started)} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok(killed !== undefined && killed >= 0 && recovery, 'a member was killed during the stream');
    t.diagnostic(`writes succeeded through both replicas ${Math.round(await recovery)} ms after the new leader was elected`);
    // Anything else than success may only be the store being briefly unavailable (the contract's 503).
    for (const status of statuses.keys()) assert.ok([201, 204, 503].includes(status), `unexpected status ${status}`);

    let acked = 0;
    let unanswered = 0;
    const readStart = performance.now();
    for (const [address, outcome] of outcomes) {
      const reads = await Promise.all([a, b].map((replica) => replica.get(`${LIST}/${address}`)));
      assert.deepEqual(reads.map((r) => r.status), [reads[0]!.status, reads[0]!.status], `${address}: both replicas agree`);
      assert.deepEqual(reads[1]!.body, reads[0]!.body, `${address}: both replicas read the same`);
      const [read] = reads;
      if (outcome.unanswered.length === 0) {
        // Every write to it was acknowledged: exactly the last one, with the ETag answered to it.
        assert.equal(read!.status, 200, `${address}: ${read!.text}`);
        assert.deepEqual(read!.body, outcome.acked!.body, address);
        assert.equal(read!.headers.get('etag'), outcome.acked!.etag, `${address}: the ETag answered to the write`);
        acked++;
        continue;
      }
      // A write whose answer was lost took effect whole or not at all: the last acknowledged body or an unanswered one.
      unanswered++;
      const possible = [...(outcome.acked ? [outcome.acked.body] : []), ...outcome.unanswered];
      if (read!.status === 404) {
        assert.equal(outcome.acked, undefined, `${address}: acknowledged, then lost`);
        continue;
      }
      assert.equal(read!.status, 200, `${address}: ${read!.text}`);
      assert.ok(possible.some((body) => isDeepStrictEqual(body, read!.body)), `${address}: ${read!.text} is none of the bodies written`);
      if (outcome.acked && isDeepStrictEqual(read!.body, outcome.acked.body)) {
        assert.equal(read!.headers.get('etag'), outcome.acked.etag, `${address}: the ETag answered to the write`);
      }
    }
    assert.ok(acked > 0);
    t.diagnostic(`${acked} registries read back as acknowledged and ${unanswered} whose last answer was lost read back whole or absent, through both replicas, in ${Math.round(performance.now() - readStart)} ms`);
    const [listA, listB] = await Promise.all([a.get(LIST), b.get(LIST)]);
    assert.deepEqual(listA.body, listB.body);
    await cluster.restart(killed!);
  });

  it('ETags and preconditions hold across replicas: If-Match with an ETag from before a write through the other is 412', async () => {
    const address = 'etag-across.example.com:5000';
    const created = await a.put(`${LIST}/${address}`, registry(address, 'one'));
    assert.equal(created.status, 201, created.text);
    const etag1 = created.headers.get('etag')!;
    const viaB = await b.put(`${LIST}/${address}`, registry(address, 'two'));
    assert.equal(viaB.status, 204, viaB.text);
    const etag2 = viaB.headers.get('etag')!;
    assert.notEqual(etag2, etag1);

    const stale = await a.put(`${LIST}/${address}`, registry(address, 'three'), { headers: { 'if-match': etag1 } });
    assert.equal(stale.status, 412, stale.text);
    const read = await a.get(`${LIST}/${address}`);
    assert.equal(read.headers.get('etag'), etag2, 'A reads the write made through B at once');
    assert.equal((await a.get(`${LIST}/${address}`, { headers: { 'if-none-match': etag2 } })).status, 304);
    assert.equal((await b.put(`${LIST}/${address}`, registry(address, 'x'), { headers: { 'if-none-match': '*' } })).status, 412);
    const fresh = await a.put(`${LIST}/${address}`, registry(address, 'three'), { headers: { 'if-match': etag2 } });
    assert.equal(fresh.status, 204, fresh.text);
    assert.equal((await b.delete(`${LIST}/${address}`, { headers: { 'if-match': etag2 } })).status, 412);
    assert.equal((await b.delete(`${LIST}/${address}`, { headers: { 'if-match': fresh.headers.get('etag')! } })).status, 204);
    assert.equal((await a.get(`${LIST}/${address}`)).status, 404);
  });

  it('a token created through A works on B; revoked through B, A refuses it', async (t) => {
    const created = await a.post(TOKENS, { name: 'across-replicas', role: 'operator' });
    assert.equal(created.status, 201, created.text);
    const token = (created.body as { token: string }).token;
    const onA = a.withToken(token);
    const onB = b.withToken(token);
    assert.equal((await onA.get(ANY)).status, 200);
    const known = await within(async () => (await onB.get(ANY)).status === 200, 'B accepted the token created through A');

    assert.equal((await b.delete(`${TOKENS}/across-replicas`)).status, 204);
    assert.equal((await onB.get(ANY)).status, 401, 'revoked at once on the replica that revoked it');
    const refused = await within(async () => (await onA.get(ANY)).status === 401, 'A refused the token revoked through B');
    assert.equal((await onA.get(ANY)).status, 401);
    t.diagnostic(`token known on B after ${known.toFixed(1)} ms; refused on A after ${refused.toFixed(1)} ms`);
  });
});
