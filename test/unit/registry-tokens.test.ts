// The site registry's token-flow tokens: scopes parsed as clients send them, grants signed and checked, expiry kept.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { grantsAllow, parseScopes, RegistryTokens, TOKEN_LIFETIME_SECONDS } from '../../src/registry/http/registry-tokens.js';
import { RegistryError } from '../../src/registry/registry-error.js';

describe('registry token scopes', () => {
  it('reads repository and catalog scopes, several per parameter, keeping only known actions', () => {
    assert.deepEqual(parseScopes(['repository:team/app:pull,push', 'repository:a:pull repository:b:delete,bogus', 'registry:catalog:*']), [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'a', actions: ['pull'] },
      { type: 'repository', name: 'b', actions: ['delete'] },
      { type: 'registry', name: 'catalog', actions: ['pull', 'push', 'delete'] },
    ]);
    assert.deepEqual(parseScopes([]), []);
  });

  it('refuses malformed scopes with a 400', () => {
    for (const scope of ['repository', 'repository:x', ':x:pull', 'repository:X:pull', 'repository:a/../b:pull', 'registry:tags:*', 'blob:x:pull']) {
      assert.throws(() => parseScopes([scope]), (e: unknown) => e instanceof RegistryError && e.status === 400, scope);
    }
  });
});

describe('registry tokens', () => {
  const grants = [{ type: 'repository' as const, name: 'team/app', actions: ['pull' as const] }];

  it('carry their grants until they expire, and not a second longer', () => {
    let now = Date.parse('2026-11-29T12:00:00Z');
    const tokens = new RegistryTokens(() => now);
    const { token, expiresIn } = tokens.issue(grants);
    assert.equal(expiresIn, TOKEN_LIFETIME_SECONDS);
    assert.deepEqual(tokens.verify(token), { grants });
    now += (TOKEN_LIFETIME_SECONDS - 1) * 1000;
    assert.deepEqual(tokens.verify(token), { grants });
    now += 1000;
    assert.equal(tokens.verify(token), undefined);
  });

  it('are good only where they were made and only as made', () => {
    const tokens = new RegistryTokens();
    const { token } = tokens.issue(grants);
    assert.equal(new RegistryTokens().verify(token), undefined, 'another key');
    assert.equal(tokens.verify(`${token}x`), undefined);
    assert.equal(tokens.verify(token.replace('berth-registry.', 'berth-registry.e')), undefined);
    assert.equal(tokens.verify('berth_someapitoken'), undefined);
    const entry = { type: 'repository' as const, name: 'team/app' };
    assert.ok(grantsAllow(tokens.verify(token)!.grants, entry, 'pull'));
    assert.ok(!grantsAllow(tokens.verify(token)!.grants, entry, 'push'));
    assert.ok(!grantsAllow(tokens.verify(token)!.grants, { type: 'repository', name: 'team/app2' }, 'pull'));
  });

  it('leave out grants with no action', () => {
    const tokens = new RegistryTokens();
    const { token } = tokens.issue([{ type: 'repository', name: 'x', actions: [] }, ...grants]);
    assert.deepEqual(tokens.verify(token), { grants });
  });

  it('name whom they were issued to, and that name cannot be changed', () => {
    const tokens = new RegistryTokens();
    const { token } = tokens.issue(grants, 'pusher-a');
    assert.deepEqual(tokens.verify(token), { grants, holder: 'pusher-a' });
    // The same claims naming someone else, under the original signature: not a token of this process.
    const [payload, signature] = token.slice('berth-registry.'.length).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const renamed = Buffer.from(JSON.stringify({ ...claims, sub: 'pusher-b' })).toString('base64url');
    assert.equal(tokens.verify(`berth-registry.${renamed}.${signature}`), undefined);
  });
});
