// Roles are one enum: the contract's `Role`, the access rules, the token store and its cache, and /v2 all know the
// same four, and anything else (a corrupt or foreign store entry) is refused, never mapped to some role's rules.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { componentSchema } from '../../src/contract/openapi.js';
import { isAllowed, ROLES, type Role } from '../../src/auth/principal.js';
import { hashToken, TokenRegistry } from '../../src/auth/tokens.js';
import { registryActionsOf } from '../../src/registry/http/access.js';
import { SqliteConfigStore } from '../../src/store/sqlite.js';
import { BerthError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-roles-'));
const store = new SqliteConfigStore(dir);
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const FEED = '/v1/state/system/changes';
const TOKENS = '/v1/config/system/tokens';
const REGISTRIES = '/v1/config/image-registry/remote-registries';
const PULL = '/v1/state/image-registry/pull';
const REPORT = '/v1/state/system/site-report';
const AUDIT = '/v1/state/system/audit';

describe('one enum of roles', () => {
  it('the contract names exactly the roles the code knows', () => {
    assert.deepEqual(componentSchema('Role').enum, [...ROLES]);
  });

  it('the rules of each role, and nothing for a role outside the enum', () => {
    const cases: [Role, string, string, string | undefined, boolean][] = [
      ['admin', 'POST', TOKENS, undefined, true],
      ['admin', 'GET', FEED, 'edge', true],
      ['operator', 'POST', PULL, undefined, true],
      ['operator', 'POST', REGISTRIES, undefined, false],
      ['operator', 'GET', TOKENS, undefined, false],
      ['read', 'GET', REGISTRIES, undefined, true],
      ['read', 'POST', PULL, undefined, false],
      ['read', 'GET', TOKENS, undefined, false],
      ['admin', 'GET', AUDIT, 'edge', true],
      ['operator', 'GET', AUDIT, undefined, false],
      ['read', 'GET', AUDIT, undefined, false],
      ['site', 'GET', AUDIT, undefined, false],
      ['read', 'GET', '/metrics', undefined, true],
      ['operator', 'GET', '/metrics', undefined, true],
      ['site', 'GET', '/metrics', undefined, false],
      ['site', 'GET', FEED, undefined, true],
      ['site', 'GET', '/v1/state/system/snapshot', undefined, true],
      ['site', 'GET', FEED, 'other-site', false],
      ['site', 'GET', REGISTRIES, undefined, false],
      ['site', 'GET', '/v1/state/sites', undefined, false],
      ['site', 'POST', PULL, undefined, false],
      // A site's report: its own token alone sends one, never through ?site=, never anyone else.
      ['site', 'POST', REPORT, undefined, true],
      ['site', 'POST', REPORT, 'other-site', false],
      ['site', 'GET', REPORT, undefined, false],
      ['admin', 'POST', REPORT, undefined, false],
      ['operator', 'POST', REPORT, undefined, false],
      ['read', 'POST', REPORT, undefined, false],
      ['site', 'GET', '/v1/state/image-registry/site-images', undefined, false],
      ['operator', 'PUT', '/v1/config/image-registry/site-images/{site-images-name}', undefined, false],
      ['admin', 'PUT', '/v1/config/image-registry/site-images/{site-images-name}', undefined, true],
    ];
    for (const [role, method, path, site, allowed] of cases) assert.equal(isAllowed(role, { method, path, site }), allowed, `${role} ${method} ${path} ${site ?? ''}`);
    for (const unknown of ['root', 'Admin', '', 'operator ']) {
      for (const [, method, path] of cases) assert.equal(isAllowed(unknown as Role, { method, path }), false, `${unknown} ${method} ${path}`);
      assert.deepEqual(registryActionsOf(unknown as Role), []);
    }
  });

  it('the site registry: read pulls, operator and admin push and delete, site nothing', () => {
    assert.deepEqual(Object.fromEntries(ROLES.map((r) => [r, registryActionsOf(r)])), {
      admin: ['pull', 'push', 'delete'],
      operator: ['pull', 'push', 'delete'],
      read: ['pull'],
      site: [],
    });
  });
});

describe('the token store', () => {
  const stored = (name: string, value: Record<string, unknown>) => store.put(`system/tokens/${name}`, { name, created: new Date().toISOString(), ...value });

  it('refuses stored tokens outside the enum or without their site, and does not list them', async () => {
    const { tokens } = await TokenRegistry.open(store, 'configured-admin-token-0123456789');
    try {
      const bad: [string, Record<string, unknown>][] = [
        ['root', { role: 'root' }],
        ['upper', { role: 'ADMIN' }],
        ['none', {}],
        ['site-without-site', { role: 'site' }],
        ['read-with-site', { role: 'read', site: 'edge' }],
        ['short-hash', { role: 'admin' }],
      ];
      for (const [name, value] of bad) await stored(name, { hash: name === 'short-hash' ? 'abc' : hashToken(`token-${name}`), ...value });
      await stored('good-site', { role: 'site', site: 'edge', hash: hashToken('token-good-site') });
      for (const [name] of bad) assert.equal(await tokens.authenticate(`token-${name}`), undefined, name);
      assert.deepEqual(await tokens.authenticate('token-good-site'), { name: 'good-site', role: 'site', site: 'edge' });
      assert.deepEqual((await tokens.list()).map((t) => t.name), ['good-site']);
      await assert.rejects(tokens.get('root'), (e: unknown) => e instanceof BerthError && e.kind === 'not-found');
      // A later write that makes an entry valid or invalid is followed at once (the cache follows the store's feed).
      await stored('root', { role: 'read', hash: hashToken('token-root') });
      await stored('good-site', { role: 'superuser', hash: hashToken('token-good-site') });
      assert.deepEqual(await tokens.authenticate('token-root'), { name: 'root', role: 'read' });
      assert.equal(await tokens.authenticate('token-good-site'), undefined);
    } finally {
      tokens.close();
    }
  });

  it('creates a site token only with its site, and a site only with role site', async () => {
    const { tokens } = await TokenRegistry.open(store, 'configured-admin-token-0123456789');
    try {
      const invalid = (e: unknown) => e instanceof BerthError && e.kind === 'invalid-input' && /^site: /.test(e.message);
      await assert.rejects(tokens.create({ name: 's1', role: 'site' }), invalid);
      await assert.rejects(tokens.create({ name: 's2', role: 'read', site: 'edge' }), invalid);
      await assert.rejects(tokens.create({ name: 's3', role: 'admin', site: 'edge' }, { validateOnly: true }), invalid);
      const created = await tokens.create({ name: 's4', role: 'site', site: 'edge-4' });
      assert.deepEqual({ ...created, token: undefined, created: undefined }, { name: 's4', role: 'site', site: 'edge-4', token: undefined, created: undefined });
      assert.deepEqual(await tokens.authenticate(created.token), { name: 's4', role: 'site', site: 'edge-4' });
    } finally {
      tokens.close();
    }
  });
});
