// The audit trail as the API shows it, over a real SQLite store: entries mapped from the store's records (principal,
// method, path, revisions, site), filters (path on a segment boundary, principal), pages, and retention by count and
// by age (with a clock the test moves), both hidden at once when reading and dropped from the store by a trim.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteConfigStore } from '../../src/store/sqlite.js';
import type { WriteContext } from '../../src/store/config-store.js';
import { apiPathOf, AuditTrail, type AuditRetention } from '../../src/audit/audit-trail.js';

const dirs: string[] = [];
const stores: SqliteConfigStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function freshStore(): SqliteConfigStore {
  const dir = mkdtempSync(join(tmpdir(), 'berth-audit-'));
  dirs.push(dir);
  const store = new SqliteConfigStore(dir);
  stores.push(store);
  return store;
}

const NO_LIMIT: AuditRetention = { maxEntries: undefined, maxAgeMs: undefined };
const ci: WriteContext = { author: { kind: 'token', name: 'ci' }, requestId: 'r-ci', method: 'POST' };
const alice: WriteContext = { author: { kind: 'sso', name: 'alice', subject: 'sub-alice', issuer: 'https://idp.example' }, requestId: 'r-alice', method: 'PATCH' };
const replication: WriteContext = { author: { kind: 'system', name: 'tower' } };
const REGISTRIES = 'config/image-registry/remote-registries/';

describe('audit entries', () => {
  it('name the principal, method, object path, revisions, request id and site of each write', async () => {
    const store = freshStore();
    const trail = new AuditTrail(store, { siteName: 'edge-1', retention: NO_LIMIT });
    const created = await store.put(`${REGISTRIES}[::1]:5000`, { address: '[::1]:5000' }, { kind: 'absent' }, ci);
    const patched = await store.put(`${REGISTRIES}[::1]:5000`, { address: '[::1]:5000', 'override-address': 'm.example' }, undefined, alice);
    const copied = await store.put(`${REGISTRIES}r.example`, { address: 'r.example' }, undefined, replication);
    const gone = await store.delete(`${REGISTRIES}r.example`, undefined, replication);
    await store.put('replication/tower-revision', { revision: 4 });
    const { entries, next } = await trail.read({}, 10);
    assert.equal(next, undefined);
    const path = '/v1/config/image-registry/remote-registries/%5B::1%5D:5000';
    assert.deepEqual(entries.map(({ id: _id, time: _time, ...entry }) => entry), [
      { principal: 'tower', 'principal-kind': 'system', method: 'DELETE', path: '/v1/config/image-registry/remote-registries/r.example', 'revision-before': copied.revision, 'revision-after': gone.revision, site: 'edge-1' },
      { principal: 'tower', 'principal-kind': 'system', method: 'PUT', path: '/v1/config/image-registry/remote-registries/r.example', 'revision-after': copied.revision, site: 'edge-1' },
      { principal: 'sub-alice', 'principal-kind': 'sso', 'principal-name': 'alice', issuer: 'https://idp.example', method: 'PATCH', path, 'revision-before': created.revision, 'revision-after': patched.revision, 'request-id': 'r-alice', site: 'edge-1' },
      { principal: 'ci', 'principal-kind': 'token', method: 'POST', path, 'revision-after': created.revision, 'request-id': 'r-ci', site: 'edge-1' },
    ]);
  });

  it('paths are those of the API: tokens under /v1/config/system, keys escaped as in Location headers', () => {
    assert.equal(apiPathOf('system/tokens/ci-bot'), '/v1/config/system/tokens/ci-bot');
    assert.equal(apiPathOf('config/sites/edge-1'), '/v1/config/sites/edge-1');
    assert.equal(apiPathOf(`${REGISTRIES}registry.example.com:6000`), '/v1/config/image-registry/remote-registries/registry.example.com:6000');
  });
});

describe('reading the trail', () => {
  it('filters by path on a segment boundary (escapes decoded) and by principal; pages add up to the whole', async () => {
    const store = freshStore();
    const trail = new AuditTrail(store, { siteName: 'control-tower', retention: NO_LIMIT });
    for (let i = 0; i < 7; i++) {
      await store.put(`${REGISTRIES}reg.example`, { i }, undefined, i % 2 ? alice : ci);
      await store.put(`${REGISTRIES}reg.example.evil`, { i }, undefined, ci);
      await store.put(`${REGISTRIES}[::1]:5000`, { i }, undefined, alice);
    }
    await store.put('system/tokens/reader', { i: 0 }, undefined, ci);
    const all = (await trail.read({}, 1000)).entries;
    assert.equal(all.length, 22);
    assert.deepEqual(all.map((e) => e.id), [...all.map((e) => e.id)].sort((a, b) => b - a), 'newest first');

    const exact = await trail.read({ path: '/v1/config/image-registry/remote-registries/reg.example' }, 1000);
    assert.deepEqual(new Set(exact.entries.map((e) => e.path)), new Set(['/v1/config/image-registry/remote-registries/reg.example']));
    assert.equal(exact.entries.length, 7);
    const decoded = await trail.read({ path: '/v1/config/image-registry/remote-registries/[::1]:5000' }, 1000);
    assert.equal(decoded.entries.length, 7);
    assert.equal((await trail.read({ path: '/v1/config/image-registry' }, 1000)).entries.length, 21);
    assert.equal((await trail.read({ path: '/v1/config/image-registry/remote' }, 1000)).entries.length, 0, 'not a segment of any path');
    assert.equal(await trail.count({ path: '/v1/config/system' }), 1);
    assert.equal(await trail.count({ principal: 'sub-alice' }), 3 + 7);
    assert.equal(await trail.count({ principal: 'alice' }), 0, 'an SSO user is their subject, not their name');
    assert.equal(await trail.count({ principal: 'ci', path: '/v1/config/image-registry/remote-registries/reg.example' }), 4);

    for (const size of [1, 5, 22]) {
      const seen: number[] = [];
      let page = await trail.read({}, size);
      for (;;) {
        assert.ok(page.entries.length <= size);
        seen.push(...page.entries.map((e) => e.id));
        if (page.next === undefined) break;
        assert.equal(page.next, seen.at(-1));
        page = await trail.read({ before: page.next }, size);
      }
      assert.deepEqual(seen, all.map((e) => e.id), `page size ${size}`);
    }
    // A filtered page that scans past the store's own pages (500 records) still finds its entries.
    for (let i = 0; i < 600; i++) await store.put(`${REGISTRIES}noise`, { i }, undefined, ci);
    assert.equal((await trail.read({ principal: 'sub-alice' }, 100)).entries.length, 10);
  });
});

describe('retention', () => {
  it('by count: only the newest are shown, and the others are dropped from the store', async () => {
    const store = freshStore();
    const trail = new AuditTrail(store, { siteName: 'control-tower', retention: { maxEntries: 3, maxAgeMs: undefined } });
    for (let i = 0; i < 8; i++) await store.put(`${REGISTRIES}reg.example`, { i }, undefined, ci);
    const newest = (await store.auditRecords({ limit: 3 })).map((r) => r.id);
    assert.equal((await store.auditRecords({ limit: 100 })).length, 8, 'nothing is dropped before a trim');
    assert.deepEqual((await trail.read({}, 100)).entries.map((e) => e.id), newest);
    assert.equal(await trail.count({}), 3);
    assert.deepEqual((await store.auditRecords({ limit: 100 })).map((r) => r.id), newest, 'reading trimmed the store');
    assert.equal(await trail.trim(), 0);
  });

  it('by age: entries older than the limit are not shown, and a trim drops them', async () => {
    const store = freshStore();
    const day = 86_400_000;
    let now = Date.now();
    const trail = new AuditTrail(store, { siteName: 'control-tower', retention: { maxEntries: undefined, maxAgeMs: day }, now: () => now });
    await store.put(`${REGISTRIES}old.example`, {}, undefined, ci);
    await store.put(`${REGISTRIES}old.example`, { x: 1 }, undefined, ci);
    // The store stamps writes with the real time; the trail's clock is moved instead, a day past this boundary.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const boundary = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await store.put(`${REGISTRIES}new.example`, {}, undefined, alice);
    assert.equal(await trail.count({}), 3, 'nothing is a day old yet');
    now = boundary + day;
    assert.deepEqual((await trail.read({}, 10)).entries.map((e) => e.path), ['/v1/config/image-registry/remote-registries/new.example']);
    assert.equal((await store.auditRecords({ limit: 10 })).length, 1, 'the trim before reading dropped the two older ones');
    now = Date.now() + day + 1;
    assert.equal(await trail.count({}), 0);
    assert.equal((await store.auditRecords({ limit: 10 })).length, 0);
  });
});
