// A started Berth answers a GET of one configuration entry the same whichever path takes it: the plain read before
// Express (src/http/plain-reads.ts: no query, an Accept JSON satisfies) or Express (here: an Accept with a q-value,
// which only Express negotiates). Status, every header but the per-answer ones, and body are compared; both requests
// are logged and counted alike. Which requests the plain read takes is checked in test/unit/plain-reads.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { eventually } from '../helpers/eventually.js';

let berth: BerthProcess;
let api: Api;

before(async () => {
  berth = await startBerth();
  api = new Api(berth.url, berth.adminToken, assertMatchesContract);
  const created = [
    await api.post('/v1/config/image-registry/remote-registries', { address: 'plain.example.com:5000', credentials: [{ repository: '*', vault: 'kv', secret: 'p' }] }),
    await api.post('/v1/config/sites', { name: 'edge-1', 'api-url': 'https://edge-1.example.com:4443', vault: 'kv', secret: 'sites/edge-1' }),
    await api.post('/v1/config/image-registry/site-images', { name: 'rollout-1', sites: 'region=eu', images: [{ image: 'plain.example.com:5000/team/app:v1' }] }),
  ];
  for (const res of created) assert.equal(res.status, 201, res.text);
});

after(async () => {
  assert.equal(await berth.stop(), 0);
});

/** Headers that differ from one answer to the next whoever gives it. */
const PER_ANSWER = new Set(['date', 'x-request-id', 'keep-alive', 'connection']);
const lasting = (headers: Headers) => [...headers].filter(([name]) => !PER_ANSWER.has(name));

describe('GET of one configuration entry', () => {
  const entries = [
    '/v1/config/image-registry/remote-registries/plain.example.com:5000',
    '/v1/config/sites/edge-1',
    '/v1/config/image-registry/site-images/rollout-1',
    '/v1/config/image-registry/remote-registries/missing.example.com',
  ];
  for (const path of entries) {
    it(`answers the same with and without Express: ${path}`, async () => {
      const plain = await api.get(path);
      const negotiated = await api.get(path, { accept: 'application/json;q=1' });
      assert.equal(plain.status, negotiated.status, plain.text);
      assert.deepEqual(lasting(plain.headers), lasting(negotiated.headers));
      assert.equal(plain.text, negotiated.text);
    });
  }

  it('logs and counts a plain read as it does one Express answered', async () => {
    const path = '/v1/config/sites/edge-1';
    const id = `plain-read-${Date.now()}`;
    const res = await api.get(path, { headers: { 'x-request-id': id } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), id);
    await eventually('the plain read logged', async () => berth.output().includes(`"id":"${id}"`));
    const line = JSON.parse(berth.output().split('\n').find((l) => l.includes(`"id":"${id}"`))!) as Record<string, unknown>;
    assert.equal(line.msg, 'request completed');
    assert.deepEqual(line.req, { id, method: 'GET', url: path, remoteAddress: '127.0.0.1' });
    assert.deepEqual(line.res, { statusCode: 200 });
    const metrics = await (await fetch(`${berth.url}/metrics`, { headers: { authorization: `Bearer ${berth.adminToken}` } })).text();
    assert.match(metrics, /berth_http_requests_total\{route="\/v1\/config\/sites\/\{site-name\}",method="GET",status="200"\} [1-9]/);
  });
});
