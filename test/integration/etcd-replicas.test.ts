// Two Berth replicas on one 3-member etcd cluster, through real HTTP: a stream of writes through both while the etcd
// leader is killed with SIGKILL, then every acknowledged write read back through both; ETags across replicas; tokens.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
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
    /** What each address must read back as: its last acknowledged write, unless a later write was not acknowledged. */
    const expected = new Map<string, { body: unknown; etag: string } | 'unknown'>();
    const statuses = new Map<number, number>();
    let done = 0;
    const count = (res: ApiResponse) => statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);

    // Each registry: created through one replica, then replaced through the other with If-Match on the first ETag.
    const writeRegistry = async (i: number) => {
      const address = `replica${i}.example.com:${5000 + i}`;
      const [first, second] = i % 2 ? [a, b] : [b, a];
      const created = registry(address, `created-${i}`);
      const res1 = await first.put(`${LIST}/${address}`, created);
      count(res1);
      if (res1.status !== 201) {
        expected.set(address, 'unknown');
        return;
      }
      expected.set(address, { body: created, etag: res1.headers.get('etag')! });
      const replaced = registry(address, `replaced-${i}`);
      const res2 = await second.put(`${LIST}/${address}`, replaced, { headers: { 'if-match': res1.headers.get('etag')! } });
      count(res2);
      expected.set(address, res2.status === 204 ? { body: replaced, etag: res2.headers.get('etag')! } : 'unknown');
      done++;
    };

    let next = 0;
    let killed: number | undefined;
    const worker = async () => {
      for (let i = next++; i < REGISTRIES; i = next++) {
        await writeRegistry(i);
        if (killed === undefined && done >= REGISTRIES / 3) {
          killed = -1;
          killed = await cluster.leader();
          await cluster.kill(killed);
          t.diagnostic(`SIGKILLed etcd member ${cluster.members[killed]!.name} (the leader) after ${done} registries`);
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: WORKERS }, worker));
    t.diagnostic(`${REGISTRIES * 2} writes in ${Math.round(performance.now() - started)} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok(killed !== undefined && killed >= 0, 'a member was killed during the stream');
    // Anything else than success may only be the store being briefly unavailable (the contract's 503).
    for (const status of statuses.keys()) assert.ok([201, 204, 503].includes(status), `unexpected status ${status}`);

    let checked = 0;
    const readStart = performance.now();
    for (const [address, want] of expected) {
      if (want === 'unknown') continue;
      for (const replica of [a, b]) {
        const got = await replica.get(`${LIST}/${address}`);
        assert.equal(got.status, 200, `${address}: ${got.text}`);
        assert.deepEqual(got.body, want.body, address);
        assert.equal(got.headers.get('etag'), want.etag, `${address}: the ETag answered to the write`);
      }
      checked++;
    }
    assert.ok(checked > 0);
    t.diagnostic(`${checked} registries read back through both replicas in ${Math.round(performance.now() - readStart)} ms`);
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
