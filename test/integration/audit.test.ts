// The audit trail end to end, on real Berth processes: every kind of configuration write (create, replace, merge
// patch, JSON Patch, delete; registries, sites and tokens) by different principals (API tokens and a single sign-on
// user of a real OpenID Provider) gets one entry with its revisions and request id; refused writes and dry runs get
// none; filters, pages and count; only admins read it. Then a Berth killed with SIGKILL among concurrent writes: after
// the restart, every write is in the trail and every entry's write is in the store (both or neither), and a lower
// BERTH_AUDIT_MAX_ENTRIES at the next start keeps only the newest entries. Answers are checked against the contract.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api, errorMessage, type ApiResponse } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { registerSecretValue } from '../helpers/secret-values.js';
import type { AuditEntry } from '../../src/audit/audit-trail.js';

const AUDIT = '/v1/state/system/audit';
const REGISTRIES = '/v1/config/image-registry/remote-registries';
const TOKENS = '/v1/config/system/tokens';
const SITES = '/v1/config/sites';


let provider: OidcProvider;
let berth: BerthProcess;
/** The admin of BERTH_ADMIN_TOKEN, an admin token `ci-deployer`, and the SSO user alice (an admin by her group). */
let admin: Api;
let ci: Api;
let alice: Api;
let aliceSubject: string;

const api = (token: string) => new Api(berth.url, token, assertMatchesContract);
const etag = (res: ApiResponse) => Number(JSON.parse(res.headers.get('etag') ?? 'null'));
const entriesOf = (res: ApiResponse): AuditEntry[] => {
  assert.equal(res.status, 200, res.text);
  return res.body as AuditEntry[];
};
const trail = async (query = '') => entriesOf(await admin.get(`${AUDIT}?limit=1000${query}`));
const countOf = async (query = '') => ((await admin.get(`${AUDIT}?count=true${query}`)).body as { count: number }).count;
/** The parts of an entry a test states exactly (not its id and time). */
const shape = ({ id: _id, time: _time, ...rest }: AuditEntry) => rest;

before(async () => {
  provider = await startOidcProvider({ users: {} });
  berth = await startBerth({
    env: {
      BERTH_OIDC_ISSUER: provider.issuer,
      BERTH_OIDC_AUDIENCE: provider.audience,
      BERTH_OIDC_CA_CERT: provider.ca.certPath,
      BERTH_OIDC_ROLES: 'admin=berth-admins',
    },
  });
  admin = api(berth.adminToken);
  const created = await admin.post(TOKENS, { name: 'ci-deployer', role: 'admin' }, { headers: { 'x-request-id': 'make-ci' } });
  assert.equal(created.status, 201, created.text);
  const token = (created.body as { token: string }).token;
  registerSecretValue(token);
  ci = api(token);
  const now = Math.floor(Date.now() / 1000);
  aliceSubject = `alice-${now}`;
  const jwt = await provider.sign({ iss: provider.issuer, aud: provider.audience, sub: aliceSubject, preferred_username: 'alice', groups: ['berth-admins'], iat: now, exp: now + 3600 });
  registerSecretValue(jwt.split('.')[2]!);
  alice = api(jwt);
});

after(async () => {
  assert.equal(await berth?.stop(), 0);
  await provider?.stop();
});

describe('the audit trail', () => {
  it('every kind of write gets one entry: who, method, path, revisions before and after, request id, site', async () => {
    const path = `${REGISTRIES}/registry.example.com`;
    const id = (name: string) => ({ headers: { 'x-request-id': name } });
    const created = await ci.post(REGISTRIES, { address: 'registry.example.com' }, id('w-create'));
    const replaced = await alice.put(path, { address: 'registry.example.com', 'override-address': 'mirror.example.com' }, id('w-replace'));
    const merged = await ci.patch(path, { credentials: [{ repository: '*', vault: 'kv', secret: 'login' }] }, id('w-merge'));
    const jsonPatched = await alice.patch(path, [{ op: 'remove', path: '/override-address' }], { ...id('w-json-patch'), contentType: 'application/json-patch+json' });
    const readBack = await ci.get(path);
    const removed = await ci.delete(path, { headers: { 'x-request-id': 'w-delete', 'if-match': readBack.headers.get('etag')! } });
    const site = await alice.put(`${SITES}/edge-1`, { name: 'edge-1', 'api-url': 'https://edge-1.example.com', vault: 'sites', secret: 'edge-1' }, id('w-site'));
    const revoked = await admin.delete(`${TOKENS}/ci-deployer`, id('w-revoke'));
    for (const [res, status] of [[created, 201], [replaced, 204], [merged, 204], [jsonPatched, 204], [removed, 204], [site, 201], [revoked, 204]] as const) {
      assert.equal(res.status, status, res.text);
    }

    const sso = { principal: aliceSubject, 'principal-kind': 'sso', 'principal-name': 'alice', issuer: provider.issuer };
    const byCi = { principal: 'ci-deployer', 'principal-kind': 'token' };
    const byAdmin = { principal: 'admin (BERTH_ADMIN_TOKEN)', 'principal-kind': 'token' };
    const at = { site: 'control-tower' };
    const entries = await trail();
    assert.deepEqual(entries.slice(0, 8).map(shape), [
      { ...byAdmin, method: 'DELETE', path: `${TOKENS}/ci-deployer`, 'revision-before': entries[7]!['revision-after'], 'revision-after': entries[0]!['revision-after'], 'request-id': 'w-revoke', ...at },
      { ...sso, method: 'PUT', path: `${SITES}/edge-1`, 'revision-after': etag(site), 'request-id': 'w-site', ...at },
      { ...byCi, method: 'DELETE', path, 'revision-before': etag(jsonPatched), 'revision-after': etag(site) - 1, 'request-id': 'w-delete', ...at },
      { ...sso, method: 'PATCH', path, 'revision-before': etag(merged), 'revision-after': etag(jsonPatched), 'request-id': 'w-json-patch', ...at },
      { ...byCi, method: 'PATCH', path, 'revision-before': etag(replaced), 'revision-after': etag(merged), 'request-id': 'w-merge', ...at },
      { ...sso, method: 'PUT', path, 'revision-before': etag(created), 'revision-after': etag(replaced), 'request-id': 'w-replace', ...at },
      { ...byCi, method: 'POST', path, 'revision-after': etag(created), 'request-id': 'w-create', ...at },
      { ...byAdmin, method: 'POST', path: `${TOKENS}/ci-deployer`, 'revision-after': entries[7]!['revision-after'], 'request-id': 'make-ci', ...at },
    ]);
    // The revision of the token's creation is the one its deletion names as before.
    assert.equal(entries[0]!['revision-before'], entries[7]!['revision-after']);
    for (let i = 1; i < entries.length; i++) assert.ok(entries[i - 1]!.id > entries[i]!.id && entries[i - 1]!.time >= entries[i]!.time, 'newest first');
    assert.equal(entries.length, 8, 'with BERTH_ADMIN_TOKEN given, Berth generated no token of its own');
  });

  it('a refused write (400, 404, 409, 412) and a dry run record nothing', async () => {
    await admin.post(REGISTRIES, { address: 'kept.example.com' });
    const before = await countOf();
    const path = `${REGISTRIES}/kept.example.com`;
    const refused: [ApiResponse, number][] = [
      [await admin.put(path, { address: 'kept.example.com', credentials: [{ repository: 'UPPER', vault: 'kv', secret: 's' }] }), 400],
      [await admin.patch(`${REGISTRIES}/missing.example.com`, { 'override-address': 'x.example.com' }), 404],
      [await admin.post(REGISTRIES, { address: 'kept.example.com' }), 409],
      [await admin.patch(path, { 'override-address': 'x.example.com' }, { headers: { 'if-match': '"1"' } }), 412],
      [await admin.delete(path, { headers: { 'if-match': '"1"' } }), 412],
      [await admin.put(path, { address: 'kept.example.com' }, { headers: { 'if-none-match': '*' } }), 412],
      [await admin.delete(`${path}?validate=true`), 204],
      [await admin.post(`${TOKENS}?validate=true`, { name: 'dry', role: 'read' }), 204],
    ];
    for (const [res, status] of refused) assert.equal(res.status, status, res.text);
    assert.equal(await countOf(), before);
  });

  it('filters by path (on a segment boundary) and principal, pages with limit and Link, counts, selects fields', async () => {
    for (const address of ['paged.example.com', 'paged.example.com.other']) {
      assert.equal((await admin.post(REGISTRIES, { address })).status, 201);
      for (let i = 0; i < 4; i++) assert.equal((await alice.patch(`${REGISTRIES}/${address}`, { 'override-address': `m${i}.example.com` })).status, 204);
    }
    const prefix = `${REGISTRIES}/paged.example.com`;
    const mine = await trail(`&path=${prefix}`);
    assert.equal(mine.length, 5);
    assert.ok(mine.every((e) => e.path === prefix));
    assert.equal(await countOf(`&path=${REGISTRIES}`), (await trail(`&path=${REGISTRIES}`)).length);
    assert.equal(await countOf(`&path=${prefix}&principal=${aliceSubject}`), 4);
    assert.equal(await countOf(`&principal=alice`), 0, 'an SSO user is known by their subject');

    const all = await trail();
    const seen: number[] = [];
    let next: string | undefined = `${AUDIT}?limit=3`;
    while (next) {
      const res = await admin.get(next);
      const page = entriesOf(res);
      assert.ok(page.length <= 3);
      seen.push(...page.map((e) => e.id));
      next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1];
      if (next) assert.match(next, new RegExp(`before=${page.at(-1)!.id}$`));
    }
    assert.deepEqual(seen, all.map((e) => e.id));
    const fields = entriesOf(await admin.get(`${AUDIT}?limit=2&fields=principal;method`));
    assert.deepEqual(fields, all.slice(0, 2).map((e) => ({ principal: e.principal, method: e.method })));

    for (const query of ['limit=0', 'limit=1001', 'before=0', 'before=x', 'path=v1/config', 'path=/v1/config/', 'keys=true', 'count=true&fields=path', 'what=1']) {
      const res = await admin.get(`${AUDIT}?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.ok(errorMessage(res).length > 0);
    }
  });

  it('only admins read it', async () => {
    for (const role of ['read', 'operator'] as const) {
      const made = await admin.post(TOKENS, { name: `audit-${role}`, role });
      const token = (made.body as { token: string }).token;
      registerSecretValue(token);
      const res = await api(token).get(AUDIT);
      assert.equal(res.status, 403, `${role}: ${res.text}`);
    }
    assert.equal((await admin.get(AUDIT, { token: null })).status, 401);
  });
});

describe('the audit trail across a SIGKILL', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-audit-crash-'));
  /** Generated by Berth at its first start (no BERTH_ADMIN_TOKEN): its creation is the trail's first entry. */
  let adminToken = '';
  let crashing: BerthProcess | undefined;
  after(async () => {
    await crashing?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every write answered 2xx has its entry, and every entry its write: both or neither', async (t) => {
    crashing = await startBerth({ dataDir, adminToken: null });
    // Not watched for leaks: Berth prints a token it generated, once, on purpose.
    adminToken = crashing.adminToken;
    const writer = new Api(crashing.url, adminToken);
    const acknowledged = new Map<string, number>();
    let killed = false;
    let made = 0;
    const KILL_AFTER = 60 + Math.floor(Math.random() * 60);
    // Six writers create registries until the kill, so several writes are in flight when it comes.
    const writers = Array.from({ length: 6 }, async () => {
      while (!killed) {
        const address = `r${++made}.crash.example.com`;
        const res = await writer.post(REGISTRIES, { address }).catch(() => undefined);
        if (res?.status === 201) acknowledged.set(`${REGISTRIES}/${address}`, etag(res));
        if (acknowledged.size >= KILL_AFTER && !killed) {
          killed = true;
          await crashing!.kill();
        }
      }
    });
    await Promise.all(writers);
    t.diagnostic(`killed after ${acknowledged.size} acknowledged creates, ${made} attempted`);

    crashing = await startBerth({ dataDir, adminToken: null });
    const after = new Api(crashing.url, adminToken, assertMatchesContract);
    const stored = new Map(((await after.get(`/v1/state/image-registry/remote-registries?fields=address;revision`)).body as { address: string; revision: number }[]).map((r) => [`${REGISTRIES}/${r.address}`, r.revision]));
    const entries: AuditEntry[] = [];
    for (let next: string | undefined = `${AUDIT}?path=${REGISTRIES}&limit=1000`; next; ) {
      const res = await after.get(next);
      entries.push(...entriesOf(res));
      next = /^<([^>]+)>/.exec(res.headers.get('link') ?? '')?.[1];
    }
    const audited = new Map(entries.map((e) => [e.path, e['revision-after']]));
    assert.equal(audited.size, entries.length, 'one entry per create');
    for (const [path, revision] of acknowledged) assert.equal(audited.get(path), revision, `the acknowledged write of ${path} has its entry`);
    // Both or neither: the store and the trail hold exactly the same writes, at the same revisions.
    assert.deepEqual(new Map([...audited].sort()), new Map([...stored].sort()));
    assert.ok(stored.size >= acknowledged.size);
    const first = (await after.get(`${AUDIT}?principal=start-up`)).body as AuditEntry[];
    assert.deepEqual(first.map(shape), [
      { principal: 'start-up', 'principal-kind': 'system', method: 'PUT', path: `${TOKENS}/admin`, 'revision-after': 1, site: 'control-tower' },
    ]);
  });

  it('a lower BERTH_AUDIT_MAX_ENTRIES at the next start keeps only the newest entries', async () => {
    const newest = (await new Api(crashing!.url, adminToken).get(`${AUDIT}?limit=5`)).body as AuditEntry[];
    await crashing!.stop();
    crashing = await startBerth({ dataDir, adminToken: null, env: { BERTH_AUDIT_MAX_ENTRIES: '5' } });
    const kept = new Api(crashing.url, adminToken, assertMatchesContract);
    assert.equal(((await kept.get(`${AUDIT}?count=true`)).body as { count: number }).count, 5);
    assert.deepEqual(((await kept.get(AUDIT)).body as AuditEntry[]).map((e) => e.id), newest.map((e) => e.id));
    const write = await kept.post(REGISTRIES, { address: 'after-restart.example.com' });
    assert.equal(write.status, 201);
    const now = (await kept.get(AUDIT)).body as AuditEntry[];
    assert.deepEqual(now.map((e) => e.id), [now[0]!.id, ...newest.slice(0, 4).map((e) => e.id)]);
    assert.equal(now[0]!.path, `${REGISTRIES}/after-restart.example.com`);
  });
});
