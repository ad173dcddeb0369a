// Policy parsing (HCL subset, legacy `policy =`, JSON form; what is refused) and ACL decisions with
// Vault's precedence: exact path over globs, the more specific glob or `+` pattern wins, deny wins,
// sudo, `+` on empty segments, the list fallback, wrapping TTLs, capabilities.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Acl } from '../src/acl.js';
import { parsePolicy } from '../src/policy.js';
import { VaultError } from '../src/vault-error.js';

describe('parsePolicy', () => {
  it('reads path blocks with capabilities, comments and the legacy policy attribute', () => {
    const policy = parsePolicy(
      'p',
      `# comment
      path "secret/data/*" {
        capabilities = ["read", "list",]   // trailing comma
      }
      /* block
         comment */
      path "secret/metadata/app" { policy = "write" }
      path "/sys/seal" { capabilities = ["update", "sudo"] }
      path "secret/data/wrapped" { capabilities = ["read"] min_wrapping_ttl = "1m" }`,
    );
    assert.deepEqual(policy.rules, [
      { path: 'secret/data/*', capabilities: ['read', 'list'], wrappingRequired: false },
      {
        path: 'secret/metadata/app',
        capabilities: ['create', 'read', 'update', 'patch', 'delete', 'list'],
        wrappingRequired: false,
      },
      { path: 'sys/seal', capabilities: ['update', 'sudo'], wrappingRequired: false },
      { path: 'secret/data/wrapped', capabilities: ['read'], wrappingRequired: true },
    ]);
  });

  it('reads the JSON form', () => {
    const policy = parsePolicy('p', JSON.stringify({ path: { 'secret/data/x': { capabilities: ['read'] } } }));
    assert.deepEqual(policy.rules, [{ path: 'secret/data/x', capabilities: ['read'], wrappingRequired: false }]);
  });

  it('rejects unknown capabilities, unknown keys and syntax errors with a 400', () => {
    for (const text of [
      'path "a" { capabilities = ["fly"] }',
      'path "a" { colour = "blue" }',
      'mount "a" { }',
      'path "a" { capabilities = ["read"]',
      'path "a" { capabilities = "read" }',
      'path "a" { policy = "constructor" }',
      'path "a" { policy = "__proto__" }',
      'path "a/+*" { capabilities = ["read"] }',
      'path "a" { capabilities = ["read"] max_wrapping_ttl = "1m" min_wrapping_ttl = "1h" }',
      'path "a" { capabilities = ["read"] min_wrapping_ttl = "soon" }',
      `path "a" { x = ${'['.repeat(10_000)}${']'.repeat(10_000)} }`,
      `path ${'"a" '.repeat(10_000)} { }`,
      `{"path": ${'{"a": '.repeat(5_000)}{}${'}'.repeat(5_000)}}`,
      '{"path": ',
    ]) {
      assert.throws(() => parsePolicy('p', text), (err: unknown) => err instanceof VaultError && err.status === 400, text.slice(0, 80));
    }
  });

  it('refuses the parameter constraints vault-dev does not enforce, rather than grant more than they allow', () => {
    for (const key of ['allowed_parameters', 'denied_parameters', 'required_parameters']) {
      const value = key === 'required_parameters' ? '["x"]' : '{ "x" = [] }';
      assert.throws(
        () => parsePolicy('p', `path "sys/seal" { capabilities = ["update"] ${key} = ${value} }`),
        (err: unknown) => err instanceof VaultError && err.status === 400 && err.message.includes(key),
      );
    }
  });
});

describe('Acl', () => {
  const acl = (text: string) => new Acl([parsePolicy('p', text)], false);

  it('prefers an exact path over a glob', () => {
    const a = acl(`
      path "secret/data/*" { capabilities = ["read"] }
      path "secret/data/locked" { capabilities = ["list"] }`);
    assert.equal(a.allows('secret/data/open', 'read', false), true);
    assert.equal(a.allows('secret/data/locked', 'read', false), false);
    assert.equal(a.allows('secret/data/locked', 'list', false), true);
  });

  it('prefers the longer glob, and a glob-free + pattern over an earlier glob', () => {
    const a = acl(`
      path "secret/*" { capabilities = ["read"] }
      path "secret/data/team/*" { capabilities = ["update"] }
      path "secret/+/shared" { capabilities = ["delete"] }`);
    assert.equal(a.allows('secret/data/team/x', 'update', false), true);
    assert.equal(a.allows('secret/data/team/x', 'read', false), false);
    assert.equal(a.allows('secret/data/shared', 'delete', false), true);
    assert.equal(a.allows('secret/data/other', 'read', false), true);
    assert.equal(a.allows('secret/data/a/shared', 'delete', false), false, '+ matches one segment only');
  });

  it('lets deny win, merges rules for one path across policies, and checks sudo', () => {
    const merged = new Acl(
      [
        parsePolicy('a', 'path "sys/seal" { capabilities = ["update"] }'),
        parsePolicy('b', 'path "sys/seal" { capabilities = ["sudo"] }\npath "secret/data/x" { capabilities = ["read"] }'),
        parsePolicy('c', 'path "secret/data/x" { capabilities = ["deny"] }'),
      ],
      false,
    );
    assert.equal(merged.allows('sys/seal', 'update', true), true);
    assert.equal(merged.allows('secret/data/x', 'read', false), false);
    assert.equal(acl('path "sys/seal" { capabilities = ["update"] }').allows('sys/seal', 'update', true), false);
  });

  it('lets `+` match any one segment, an empty one included', () => {
    const a = acl(`
      path "secret/data/*" { capabilities = ["update"] }
      path "secret/data/+/private" { capabilities = ["deny"] }`);
    assert.equal(a.allows('secret/data//private', 'update'), false);
    assert.equal(a.allows('secret/data/team/private', 'update'), false);
    assert.equal(a.allows('secret/data/team/sub/private', 'update'), true);
  });

  it('lets a list use the rule of the path without its trailing slash, deny included, as Vault does', () => {
    const a = acl(`
      path "secret/metadata/app" { capabilities = ["list"] }
      path "secret/metadata/*" { capabilities = ["list"] }
      path "secret/metadata/+/private" { capabilities = ["deny"] }`);
    assert.equal(a.allows('secret/metadata/app/', 'list'), true);
    assert.equal(a.allows('secret/metadata/team/private/', 'list'), false);
    assert.equal(a.allows('secret/metadata/team/', 'list'), true);
    assert.equal(a.allows('secret/metadata/app/', 'read'), false, 'only a list falls back');
  });

  it('denies requests on paths whose rule wants response wrapping, which vault-dev never does', () => {
    const a = acl('path "secret/data/wrapped" { capabilities = ["read"] max_wrapping_ttl = "1h" }');
    assert.equal(a.allows('secret/data/wrapped', 'read'), false);
    assert.deepEqual(a.capabilities('secret/data/wrapped'), ['read'], 'capability queries ignore wrapping, as in Vault');
  });

  it('reports capabilities as sys/capabilities-self does', () => {
    const a = acl('path "a/*" { capabilities = ["update", "read", "sudo"] }\npath "a/b" { capabilities = ["deny"] }');
    assert.deepEqual(a.capabilities('a/x'), ['read', 'sudo', 'update']);
    assert.deepEqual(a.capabilities('a/b'), ['deny']);
    assert.deepEqual(a.capabilities('z'), ['deny']);
    assert.deepEqual(new Acl([], true).capabilities('z'), ['root']);
  });

  it('lets the root policy do anything and an empty ACL nothing', () => {
    assert.equal(new Acl([], true).allows('any/path', 'delete', true), true);
    assert.equal(new Acl([], false).allows('any/path', 'read', false), false);
  });
});
