// /v1/config and /v1/state of remote registries through real HTTP against a started Berth: the source document's
// samples, every status code, the query options, both PATCH forms, ETags and roles. Every answer is checked
// against the OpenAPI contract as it arrives.
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api, errorMessage } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { createCertificateAuthority, issueServerCertificate } from '../helpers/tls.js';
import { REGISTRY_LIST_SAMPLE_YAML, REGISTRY_SAMPLE_YAML, withCertificate } from '../fixtures/remote-registry-samples.js';

const LIST = '/v1/config/image-registry/remote-registries';
const STATE = '/v1/state/image-registry/remote-registries';
const YAML = 'application/yaml';

let berth: BerthProcess;
let api: Api;
let sampleYaml: string;
let sampleListYaml: string;
let certPem: string;

before(async () => {
  berth = await startBerth();
  api = new Api(`${berth.url}`, berth.adminToken, assertMatchesContract);
  const ca = createCertificateAuthority('Sample Registry CA');
  certPem = ca.certPem;
  // A second, real certificate: ca-cert may hold several.
  certPem += issueServerCertificate(ca, 'extra').certPem;
  // Only the PEM texts are used: the CA's files (keys among them) go now.
  rmSync(ca.dir, { recursive: true, force: true });
  sampleYaml = withCertificate(REGISTRY_SAMPLE_YAML, certPem);
  sampleListYaml = withCertificate(REGISTRY_LIST_SAMPLE_YAML, certPem);
});

after(async () => {
  assert.equal(await berth.stop(), 0);
});

/** A registry with a unique address for one test. */
let counter = 0;
const uniqueAddress = () => `r${++counter}.example.com:${5000 + counter}`;
const registry = (address = uniqueAddress()) => ({
  address,
  credentials: [
    { repository: '*', vault: 'myvault', secret: 'a' },
    { repository: 'avassa-public', vault: 'myvault', secret: 'b' },
  ],
});
const one = (address: string) => `${LIST}/${address}`;

describe('the source document samples', () => {
  it('POST as YAML creates the registry and every read answers the documented shape', async () => {
    const created = await api.post(LIST, sampleYaml, { contentType: YAML });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers.get('location'), `${LIST}/registry.example.com`);
    assert.match(created.headers.get('etag') ?? '', /^"\d+"$/);

    const expected = yaml.load(sampleYaml) as Record<string, unknown>;
    const got = await api.get(one('registry.example.com'), { accept: YAML });
    assert.equal(got.status, 200);
    assert.match(got.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.deepEqual(got.body, expected);
    assert.equal(got.headers.get('etag'), created.headers.get('etag'));

    const list = await api.get(LIST, { accept: YAML });
    assert.deepEqual(list.body, yaml.load(sampleListYaml));

    const stateList = await api.get(`${STATE}?content=config`, { accept: YAML });
    assert.deepEqual(stateList.body, yaml.load(sampleListYaml));
    const state = (await api.get(`${STATE}/registry.example.com`, { accept: YAML })).body as Record<string, unknown>;
    const nonconfig = { revision: undefined, 'last-change': undefined, 'last-change-by': undefined };
    assert.deepEqual({ ...state, ...nonconfig }, { ...expected, ...nonconfig });
    assert.equal(typeof state.revision, 'number');
    assert.ok(!Number.isNaN(Date.parse(String(state['last-change']))));

    const patched = await api.patch(one('registry.example.com'), sampleYaml, { contentType: YAML });
    assert.equal(patched.status, 204, patched.text);
    assert.deepEqual((await api.get(one('registry.example.com'))).body, expected);

    const replaced = await api.put(one('registry.example.com'), sampleYaml, { contentType: YAML });
    assert.equal(replaced.status, 204, replaced.text);
    assert.equal((await api.delete(one('registry.example.com'))).status, 204);
    assert.equal((await api.get(one('registry.example.com'))).status, 404);

    const putNew = await api.put(one('registry.example.com'), sampleYaml, { contentType: YAML });
    assert.equal(putNew.status, 201, putNew.text);
    assert.equal((await api.delete(one('registry.example.com'))).status, 204);
  });

  it('the same samples as JSON', async () => {
    const body = JSON.stringify(yaml.load(sampleYaml));
    assert.equal((await api.post(LIST, body, { contentType: 'application/json' })).status, 201);
    const got = await api.get(one('registry.example.com'), { accept: 'application/json' });
    assert.match(got.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(got.body, yaml.load(sampleYaml));
    assert.deepEqual((await api.get(`${STATE}?content=config`)).body, yaml.load(sampleListYaml));
    assert.equal((await api.patch(one('registry.example.com'), body)).status, 204);
    assert.equal((await api.put(one('registry.example.com'), body)).status, 204);
    assert.equal((await api.delete(one('registry.example.com'))).status, 204);
  });

  it('the shortened certificate as printed is a 400 saying ca-cert does not parse', async () => {
    for (const contentType of [YAML, 'application/json']) {
      const body = contentType === YAML ? REGISTRY_SAMPLE_YAML : JSON.stringify(yaml.load(REGISTRY_SAMPLE_YAML));
      const res = await api.post(LIST, body, { contentType });
      assert.equal(res.status, 400);
      assert.match(errorMessage(res), /^ca-cert: certificate 1 does not parse as an X\.509 certificate/);
      assert.deepEqual((res.body as { errors: { 'error-info': unknown }[] }).errors[0]!['error-info'], { path: '/ca-cert' });
    }
    assert.equal((await api.get(one('registry.example.com'))).status, 404);
  });
});

describe('status codes', () => {
  it('409 on a duplicate create, and the first stays', async () => {
    const r = registry();
    assert.equal((await api.post(LIST, r)).status, 201);
    const dup = await api.post(LIST, { address: r.address });
    assert.equal(dup.status, 409);
    assert.match(errorMessage(dup), /already exists/);
    assert.deepEqual((await api.get(one(r.address))).body, r);
  });

  it('404 for a registry that does not exist, on every verb', async () => {
    const missing = one('missing.example.com');
    assert.equal((await api.get(missing)).status, 404);
    assert.equal((await api.patch(missing, { 'override-address': 'x.example.com' })).status, 404);
    assert.equal((await api.delete(missing)).status, 404);
    assert.equal((await api.get(`${STATE}/missing.example.com`)).status, 404);
  });

  it('400 when the key in the path and the body differ', async () => {
    const r = registry();
    const res = await api.put(one('other.example.com'), r);
    assert.equal(res.status, 400);
    assert.match(errorMessage(res), /address: .* does not match 'other.example.com' in the path/);
    assert.equal((await api.get(one('other.example.com'))).status, 404);
  });

  it('400 with the field named for each validation rule', async () => {
    const cases: [unknown, RegExp][] = [
      [{ address: 'https://registry.example.com' }, /^address: must be a registry host/],
      [{ address: 'user@registry.example.com' }, /^address: must be a registry host/],
      [{ address: 'registry.example.com/path' }, /^address: must be a registry host/],
      [{ address: 'registry example.com' }, /^address: must be a registry host/],
      [{ address: 'registry.example.com:70000' }, /^address: port 70000 is out of range/],
      [{ address: '[::zz]:5000' }, /^address: must be a registry host/],
      [{ address: '[1::2::3]:5000' }, /^address: '\[1::2::3\]' is not an IPv6 address/],
      [{ address: '999.1.1.1' }, /^address: '999.1.1.1' is not an IPv4 address/],
      [{ address: 'a.example.com', 'override-address': 'http://x' }, /^override-address: must be a registry host/],
      [{ address: 'a.example.com', 'ca-cert': 'hello' }, /^ca-cert: /],
      [{ address: 'a.example.com', 'ca-cert': `${certPem}garbage` }, /^ca-cert: contains text that is not a PEM certificate/],
      [{ address: 'a.example.com', credentials: [{ repository: 'Upper/Case', vault: 'v', secret: 's' }] }, /^credentials\[0\]\.repository: must be/],
      [{ address: 'a.example.com', credentials: [{ repository: 'a//b', vault: 'v', secret: 's' }] }, /^credentials\[0\]\.repository: must be/],
      [{ address: 'a.example.com', credentials: [{ repository: 'x', vault: '', secret: 's' }] }, /^credentials\[0\]\.vault: /],
      [{ address: 'a.example.com', credentials: [{ repository: 'x', vault: 'v', secret: '../../sys/seal' }] }, /^credentials\[0\]\.secret: must be/],
      [{ address: 'a.example.com', credentials: [{ repository: 'x', vault: 'secret/..', secret: 's' }] }, /^credentials\[0\]\.vault: must be/],
      [{ address: 'a.example.com', credentials: [{ repository: 'x', vault: 'v' }] }, /^credentials\[0\]\.secret: is required$/],
      [{ address: 'a.example.com', credentials: [{ repository: 'avassa-public', vault: 'v', secret: 's' }, { repository: 'avassa-public', vault: 'v', secret: 't' }] }, /^credentials\[1\]\.repository: duplicate key 'avassa-public'/],
      [{ address: 'a.example.com', colour: 'blue' }, /colour/],
      [{}, /address/],
    ];
    for (const [body, pattern] of cases) {
      const res = await api.post(LIST, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.status} ${res.text}`);
      assert.match(errorMessage(res), pattern, JSON.stringify(body));
    }
    assert.equal((await api.get(one('a.example.com'))).status, 404);
  });

  it('accepts DNS names, IPv4 and bracketed IPv6 addresses with ports', async () => {
    for (const address of ['localhost', 'registry-1.docker.io', '10.0.0.1:5000', '[::1]:5000', '[2001:db8::1]']) {
      const res = await api.post(LIST, { address });
      assert.equal(res.status, 201, `${address}: ${res.text}`);
      assert.equal((await api.get(one(address))).status, 200, address);
      assert.equal((await api.delete(one(address))).status, 204, address);
    }
  });

  it('413 for a body over the limit, 415 for an unsupported type, 406 for an unacceptable Accept', async () => {
    const huge = JSON.stringify({ address: 'big.example.com', 'ca-cert': 'x'.repeat(2 * 1024 * 1024) });
    const tooLarge = await api.post(LIST, huge);
    assert.equal(tooLarge.status, 413);
    assert.match(errorMessage(tooLarge), /larger than the limit/);
    const unsupported = await api.post(LIST, 'address=x', { contentType: 'application/x-www-form-urlencoded' });
    assert.equal(unsupported.status, 415);
    const notAcceptable = await api.get(LIST, { accept: 'text/html' });
    assert.equal(notAcceptable.status, 406);
    assert.match(notAcceptable.headers.get('content-type') ?? '', /json/);
    assert.equal((await api.get(one('big.example.com'))).status, 404);
  });

  it('Accept with q-values picks YAML or JSON', async () => {
    const yamlFirst = await api.get(LIST, { accept: 'application/json;q=0.5, application/yaml' });
    assert.match(yamlFirst.headers.get('content-type') ?? '', /^application\/yaml/);
    const jsonFirst = await api.get(LIST, { accept: 'application/json, application/yaml;q=0.1' });
    assert.match(jsonFirst.headers.get('content-type') ?? '', /^application\/json/);
    const textYaml = await api.get(LIST, { accept: 'text/yaml' });
    assert.match(textYaml.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.ok(Array.isArray(textYaml.body));
    const errorAsYaml = await api.get(one('nope.example.com'), { accept: YAML });
    assert.match(errorAsYaml.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.match(String((errorAsYaml.body as { errors: { 'error-message': string }[] }).errors[0]!['error-message']), /does not exist/);
  });

  it('a YAML body that does not parse is a 400 naming line and column', async () => {
    const res = await api.post(LIST, 'address: a.example.com\ncredentials:\n  - repository: "*\n', { contentType: YAML });
    assert.equal(res.status, 400);
    assert.match(errorMessage(res), /not valid YAML at line \d+, column \d+/);
  });
});

describe('ETags and preconditions', () => {
  it('If-Match on PUT, PATCH and DELETE answers 412 once the object changed', async () => {
    const r = registry();
    const created = await api.post(LIST, r);
    const etag = created.headers.get('etag')!;
    const patched = await api.patch(one(r.address), { 'override-address': 'mirror.example.com' }, { headers: { 'if-match': etag } });
    assert.equal(patched.status, 204);
    const newEtag = patched.headers.get('etag')!;
    assert.notEqual(newEtag, etag);
    for (const res of [
      await api.put(one(r.address), r, { headers: { 'if-match': etag } }),
      await api.patch(one(r.address), { 'override-address': 'x.example.com' }, { headers: { 'if-match': etag } }),
      await api.delete(one(r.address), { headers: { 'if-match': etag } }),
    ]) {
      assert.equal(res.status, 412);
      assert.match(errorMessage(res), /has changed/);
    }
    assert.equal((await api.get(one(r.address))).body && ((await api.get(one(r.address))).body as typeof r & { 'override-address': string })['override-address'], 'mirror.example.com');
    const weak = await api.put(one(r.address), r, { headers: { 'if-match': `W/${newEtag}` } });
    assert.equal(weak.status, 412, 'If-Match uses the strong comparison');
    assert.equal((await api.put(one(r.address), r, { headers: { 'if-match': newEtag } })).status, 204);
    assert.equal((await api.delete(one(r.address), { headers: { 'if-match': '*' } })).status, 204);
  });

  it('If-None-Match: * on PUT creates only when absent', async () => {
    const r = registry();
    assert.equal((await api.put(one(r.address), r, { headers: { 'if-none-match': '*' } })).status, 201);
    const again = await api.put(one(r.address), r, { headers: { 'if-none-match': '*' } });
    assert.equal(again.status, 412);
    assert.match(errorMessage(again), /already exists/);
  });

  it('If-Match on a PUT to an absent object is 412; GET honours If-None-Match (304) and If-Match (412)', async () => {
    const r = registry();
    assert.equal((await api.put(one(r.address), r, { headers: { 'if-match': '"1"' } })).status, 412);
    const created = await api.post(LIST, r);
    const etag = created.headers.get('etag')!;
    const notModified = await api.get(one(r.address), { headers: { 'if-none-match': etag } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers.get('etag'), etag);
    assert.equal((await api.get(one(r.address), { headers: { 'if-match': '"999999"' } })).status, 412);
    assert.equal((await api.get(one(r.address), { headers: { 'if-match': etag } })).status, 200);
  });
});

describe('query options', () => {
  it('validate=true runs every check and writes nothing, on every write', async () => {
    const r = registry();
    assert.equal((await api.post(`${LIST}?validate=true`, r)).status, 204);
    assert.equal((await api.get(one(r.address))).status, 404);
    assert.equal((await api.put(`${one(r.address)}?validate=true`, r)).status, 204);
    assert.equal((await api.get(one(r.address))).status, 404);
    assert.equal((await api.post(`${LIST}?validate=true`, { address: 'bad address' })).status, 400);
    assert.equal((await api.patch(`${one(r.address)}?validate=true`, {})).status, 404);

    const created = await api.post(LIST, r);
    assert.equal((await api.post(`${LIST}?validate=true`, r)).status, 409);
    assert.equal((await api.patch(`${one(r.address)}?validate=true`, { 'override-address': 'o.example.com' })).status, 204);
    assert.equal((await api.delete(`${one(r.address)}?validate=true`)).status, 204);
    assert.equal((await api.put(`${one(r.address)}?validate=true`, r, { headers: { 'if-match': '"1"' } })).status, 412);
    const after = await api.get(one(r.address));
    assert.deepEqual(after.body, r);
    assert.equal(after.headers.get('etag'), created.headers.get('etag'));
    assert.equal((await api.get(`${one(r.address)}?validate=true`)).status, 204);
  });

  it('fields selects parts of an object and of each list entry', async () => {
    const r = { ...registry(), 'override-address': 'mirror.example.com' };
    await api.post(LIST, r);
    const sel = await api.get(`${one(r.address)}?fields=address;credentials(repository;secret)`);
    assert.deepEqual(sel.body, { address: r.address, credentials: r.credentials.map(({ repository, secret }) => ({ repository, secret })) });
    const descend = await api.get(`${one(r.address)}?fields=credentials/vault`);
    assert.deepEqual(descend.body, { credentials: r.credentials.map(({ vault }) => ({ vault })) });
    const comma = await api.get(`${one(r.address)}?fields=address,override-address`);
    assert.deepEqual(comma.body, { address: r.address, 'override-address': 'mirror.example.com' });
    const list = (await api.get(`${LIST}?fields=address`)).body as { address: string }[];
    assert.ok(list.length > 0 && list.every((e) => Object.keys(e).join() === 'address'));
    assert.ok(list.some((e) => e.address === r.address));
    const state = await api.get(`${STATE}/${r.address}?fields=address;revision`);
    assert.deepEqual(Object.keys(state.body as object).sort(), ['address', 'revision']);
  });

  it('unknown fields and malformed expressions are 400', async () => {
    for (const expr of ['colour', 'credentials/colour', 'address;', 'credentials(repository', '(address)', 'a b', 'address)']) {
      const res = await api.get(`${LIST}?fields=${encodeURIComponent(expr)}`);
      assert.equal(res.status, 400, `${expr}: ${res.text}`);
      assert.match(errorMessage(res), /fields/);
    }
  });

  it('keys and count on lists, and their combinations are refused', async () => {
    const r = registry();
    await api.post(LIST, r);
    const all = (await api.get(LIST)).body as { address: string }[];
    const keys = await api.get(`${LIST}?keys=true`);
    assert.deepEqual(keys.body, all.map((e) => e.address));
    const count = await api.get(`${LIST}?count=true`);
    assert.deepEqual(count.body, { count: all.length });
    assert.deepEqual((await api.get(`${STATE}?count=true`)).body, { count: all.length });
    assert.deepEqual((await api.get(`${STATE}?keys=true`)).body, all.map((e) => e.address));
    for (const q of ['keys=true&count=true', 'keys=true&fields=address', 'count=true&fields=address', 'keys=false', 'count=yes']) {
      assert.equal((await api.get(`${LIST}?${q}`)).status, 400, q);
    }
  });

  it('content=config and content=nonconfig split the state', async () => {
    const r = registry();
    await api.post(LIST, r);
    const config = (await api.get(`${STATE}/${r.address}?content=config`)).body;
    assert.deepEqual(config, r);
    const nonconfig = (await api.get(`${STATE}/${r.address}?content=nonconfig`)).body as Record<string, unknown>;
    assert.deepEqual(Object.keys(nonconfig).sort(), ['address', 'last-change', 'last-change-by', 'revision']);
    const all = (await api.get(`${STATE}/${r.address}?content=all`)).body as Record<string, unknown>;
    assert.deepEqual(Object.keys(all).sort(), ['address', 'credentials', 'last-change', 'last-change-by', 'revision']);
    assert.equal((await api.get(`${STATE}?content=everything`)).status, 400);
  });

  it('the state names who made the last change (the token, and the request id of the write)', async () => {
    const created = await api.post('/v1/config/system/tokens', { name: 'ci-deployer', role: 'admin' });
    const ci = api.withToken((created.body as { token: string }).token);
    const r = registry();
    const put = await ci.put(one(r.address), r, { headers: { 'x-request-id': 'deploy-42' } });
    assert.equal(put.status, 201, put.text);
    const byCi = (await api.get(`${STATE}/${r.address}`)).body as Record<string, unknown>;
    assert.deepEqual(byCi['last-change-by'], { kind: 'token', name: 'ci-deployer', 'request-id': 'deploy-42' });
    const patched = await api.patch(one(r.address), { 'override-address': 'mirror.example.com' });
    assert.equal(patched.status, 204, patched.text);
    const byAdmin = (await api.get(`${STATE}/${r.address}?fields=last-change-by`)).body;
    assert.deepEqual(byAdmin, { 'last-change-by': { kind: 'token', name: 'admin (BERTH_ADMIN_TOKEN)', 'request-id': patched.headers.get('x-request-id') } });
    // A dry run writes nothing, so it changes no record either.
    assert.equal((await ci.patch(`${one(r.address)}?validate=true`, { 'override-address': 'x.example.com' })).status, 204);
    assert.equal(((await api.get(`${STATE}/${r.address}`)).body as { 'last-change-by': { name: string } })['last-change-by'].name, 'admin (BERTH_ADMIN_TOKEN)');
  });

  it('unknown query parameters are 400', async () => {
    const res = await api.get(`${LIST}?colour=blue`);
    assert.equal(res.status, 400);
    assert.match(errorMessage(res), /colour/);
  });
});

describe('PATCH', () => {
  it('a plain patch merges credentials by repository and never drops the others', async () => {
    const r = registry();
    await api.post(LIST, r);
    const res = await api.patch(one(r.address), 'credentials:\n  - repository: avassa-public\n    secret: b2\n  - repository: avassa-public/digital-assets-manager\n    vault: myvault\n    secret: c\n', { contentType: YAML });
    assert.equal(res.status, 204, res.text);
    assert.deepEqual((await api.get(one(r.address))).body, {
      address: r.address,
      credentials: [
        { repository: '*', vault: 'myvault', secret: 'a' },
        { repository: 'avassa-public', vault: 'myvault', secret: 'b2' },
        { repository: 'avassa-public/digital-assets-manager', vault: 'myvault', secret: 'c' },
      ],
    });
  });

  it('null deletes a leaf; merge-patch+json works the same; a new entry without vault is refused', async () => {
    const r = { ...registry(), 'override-address': 'mirror.example.com' };
    await api.post(LIST, r);
    assert.equal((await api.patch(one(r.address), { 'override-address': null }, { contentType: 'application/merge-patch+json' })).status, 204);
    assert.equal(((await api.get(one(r.address))).body as Record<string, unknown>)['override-address'], undefined);
    const incomplete = await api.patch(one(r.address), { credentials: [{ repository: 'new/repo' }] });
    assert.equal(incomplete.status, 400);
    assert.match(errorMessage(incomplete), /credentials\[2\]\.vault: is required/);
    const changeKey = await api.patch(one(r.address), { address: 'elsewhere.example.com' });
    assert.equal(changeKey.status, 400);
    assert.match(errorMessage(changeKey), /a key never changes/);
    assert.deepEqual((await api.get(one(r.address))).body, registry(r.address));
  });

  it('JSON Patch applies RFC 6902 to the stored object and validates the result', async () => {
    const r = registry();
    await api.post(LIST, r);
    const jp = 'application/json-patch+json';
    const removed = await api.patch(one(r.address), [{ op: 'remove', path: '/credentials/0' }], { contentType: jp });
    assert.equal(removed.status, 204, removed.text);
    assert.deepEqual(((await api.get(one(r.address))).body as typeof r).credentials, [r.credentials[1]]);
    const failedTest = await api.patch(one(r.address), [{ op: 'test', path: '/credentials/0/secret', value: 'zzz' }, { op: 'remove', path: '/credentials' }], { contentType: jp });
    assert.equal(failedTest.status, 409);
    const badPath = await api.patch(one(r.address), [{ op: 'replace', path: '/nothing/here', value: 1 }], { contentType: jp });
    assert.equal(badPath.status, 400);
    const invalidResult = await api.patch(one(r.address), [{ op: 'add', path: '/override-address', value: 'not a host' }], { contentType: jp });
    assert.equal(invalidResult.status, 400);
    assert.match(errorMessage(invalidResult), /override-address/);
    const noAddress = await api.patch(one(r.address), [{ op: 'remove', path: '/address' }], { contentType: jp });
    assert.equal(noAddress.status, 400);
    const notAPatch = await api.patch(one(r.address), { op: 'remove' }, { contentType: jp });
    assert.equal(notAPatch.status, 400);
    assert.deepEqual(((await api.get(one(r.address))).body as typeof r).credentials, [r.credentials[1]]);
  });
});

describe('roles', () => {
  it('read may only read; operator may read but not configure; neither may touch tokens', async () => {
    const r = registry();
    await api.post(LIST, r);
    const tokens: Record<string, string> = {};
    for (const role of ['read', 'operator']) {
      const res = await api.post('/v1/config/system/tokens', { name: `roles-${role}`, role });
      assert.equal(res.status, 201);
      tokens[role] = (res.body as { token: string }).token;
    }
    for (const role of ['read', 'operator']) {
      const as = api.withToken(tokens[role]!);
      assert.equal((await as.get(LIST)).status, 200, role);
      assert.equal((await as.get(`${STATE}/${r.address}`)).status, 200, role);
      const write = await as.post(LIST, registry());
      assert.equal(write.status, 403, role);
      assert.match(errorMessage(write), new RegExp(`role '${role}' may not POST`));
      assert.equal((await as.patch(one(r.address), {})).status, 403, role);
      assert.equal((await as.delete(one(r.address))).status, 403, role);
      assert.equal((await as.get('/v1/config/system/tokens')).status, 403, role);
    }
    // An operator invokes operations (POST under /v1/state/); a reader may not.
    const op = await api.withToken(tokens.operator!).post('/v1/state/image-registry/garbage-collect', {});
    assert.equal(op.status, 200, op.text);
    const readOp = await api.withToken(tokens.read!).post('/v1/state/image-registry/garbage-collect', {});
    assert.equal(readOp.status, 403);
    assert.match(errorMessage(readOp), /role 'read' may not POST \/v1\/state\/image-registry\/garbage-collect/);
  });

  it('401 with WWW-Authenticate: Bearer without a token or with an unknown one', async () => {
    for (const token of [null, 'not-a-token', '']) {
      const res = await api.get(LIST, { token });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    const basic = await api.get(LIST, { token: null, headers: { authorization: 'Basic YTpi' } });
    assert.equal(basic.status, 401);
  });
});
