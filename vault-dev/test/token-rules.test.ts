// Token creation and renewal by Vault's rules, driven through node-vault: sudo on auth/token/* does
// not make root tokens (create or create-orphan) though it does lift the subset check for others;
// an expiring root token cannot mint a non-expiring one; TTLs and renewal increments are capped by
// the max lease TTL (768 h, or --max-lease-ttl); and a token's expiry revokes its whole tree on a
// timer, with nobody presenting any of those tokens again (seen in the data dir).

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../test/helpers/eventually.js';
import { startVaultDev, type VaultDevInstance } from '../../test/helpers/vault-dev.js';
import { failure, rawRequest, vaultClient, type VaultClient } from './support.js';

const ROOT_TOKEN = 'token-rules-root';
const HOUR = 3600;

interface Auth {
  client_token: string;
  policies: string[];
  lease_duration: number;
  renewable: boolean;
  orphan: boolean;
}

const SUDO_ON_TOKENS = 'path "auth/token/*" { capabilities = ["create", "update", "sudo"] }';
const TOKEN_MAKER = 'path "auth/token/create" { capabilities = ["create", "update"] }';

describe('vault-dev token rules', () => {
  let vault: VaultDevInstance;
  let shortMax: VaultDevInstance;
  let root: VaultClient;

  before(async () => {
    [vault, shortMax] = await Promise.all([
      startVaultDev({ rootToken: ROOT_TOKEN }),
      startVaultDev({ rootToken: ROOT_TOKEN, args: ['--max-lease-ttl=1h'] }),
    ]);
    root = vaultClient(vault.addr, ROOT_TOKEN);
    await root.write('sys/policies/acl/token-sudo', { policy: SUDO_ON_TOKENS });
    await root.write('sys/policies/acl/token-maker', { policy: TOKEN_MAKER });
    await root.write('sys/policies/acl/reader', { policy: 'path "secret/data/*" { capabilities = ["read"] }' });
  });

  after(async () => {
    await Promise.all([vault?.stop(), shortMax?.stop()]);
  });

  /** A fresh client per token: node-vault's tokenCreate switches its client to the token it made. */
  const as = (token: string, on = vault) => vaultClient(on.addr, token);

  async function create(token: string, body: Record<string, unknown>, on = vault): Promise<Auth> {
    const created = (await as(token, on).tokenCreate(body)) as { auth: Auth };
    return created.auth;
  }

  it('refuses root tokens to a sudo holder that is not root, through create and create-orphan', async () => {
    const sudo = await create(ROOT_TOKEN, { policies: ['token-sudo'], ttl: '1h' });
    const expected = { errors: ['root tokens may not be created without parent token being root'] };

    const viaCreate = await failure(as(sudo.client_token).tokenCreate({ policies: ['root'] }));
    assert.equal(viaCreate.statusCode, 400);
    assert.deepEqual(viaCreate.body, expected);
    const viaOrphan = await failure(as(sudo.client_token).tokenCreateOrphan({ policies: ['root'] }));
    assert.equal(viaOrphan.statusCode, 400);
    assert.deepEqual(viaOrphan.body, expected);
    const mixed = await failure(as(sudo.client_token).tokenCreate({ policies: ['reader', 'ROOT '], no_parent: true }));
    assert.deepEqual(mixed.body, expected);

    // Sudo still lifts the subset check for other policies, and allows a chosen id, as in Vault.
    const other = await create(sudo.client_token, { id: 'chosen-by-sudo', policies: ['reader'], ttl: '10m' });
    assert.deepEqual([other.client_token, other.policies], ['chosen-by-sudo', ['default', 'reader']]);
  });

  it('keeps a token without sudo to a subset of its own policies, root included', async () => {
    const plain = await create(ROOT_TOKEN, { policies: ['reader', 'token-maker'], ttl: '1h' });
    for (const policies of [['root'], ['token-sudo'], ['reader', 'token-sudo']]) {
      const refused = await failure(as(plain.client_token).tokenCreate({ policies }));
      assert.equal(refused.statusCode, 400);
      assert.deepEqual(refused.body, { errors: ['child policies must be subset of parent'] });
    }
    const orphan = await failure(as(plain.client_token).tokenCreate({ no_parent: true }));
    assert.deepEqual(orphan.body, { errors: ['root or sudo privileges required to create orphan token'] });
    const child = await create(plain.client_token, {});
    assert.deepEqual(child.policies, ['default', 'reader', 'token-maker']);
  });

  it('lets an expiring root token mint only expiring root tokens', async () => {
    const expiring = await create(ROOT_TOKEN, { ttl: '1h' });
    assert.deepEqual(expiring.policies, ['root']);
    assert.equal(expiring.lease_duration, HOUR);

    for (const endpoint of ['tokenCreate', 'tokenCreateOrphan'] as const) {
      const forever = await failure(as(expiring.client_token)[endpoint]({}));
      assert.equal(forever.statusCode, 400, endpoint);
      assert.deepEqual(forever.body, { errors: ['expiring root tokens cannot create non-expiring root tokens'] });
    }
    const bounded = await create(expiring.client_token, { ttl: '30m' });
    assert.deepEqual([bounded.policies, bounded.lease_duration], [['root'], 1800]);

    // The root token from init never expires, so it may.
    const forever = await create(ROOT_TOKEN, {});
    assert.deepEqual([forever.lease_duration, forever.renewable], [0, false]);
  });

  it('caps a TTL at the max lease TTL (768 h by default), with Vault\'s warning', async () => {
    const response = await rawRequest(vault.addr, 'POST', 'auth/token/create', {
      token: ROOT_TOKEN,
      body: { policies: ['reader'], ttl: '100000h' },
    });
    assert.equal(response.status, 200);
    const body = response.json as { auth: Auth; warnings: string[] };
    assert.equal(body.auth.lease_duration, 768 * HOUR);
    assert.deepEqual(body.warnings, [
      'TTL of "100000h0m0s" exceeded the effective max_ttl of "768h0m0s"; TTL value is capped accordingly',
    ]);

    const noTtl = await create(ROOT_TOKEN, { policies: ['reader'] });
    assert.equal(noTtl.lease_duration, 768 * HOUR);
    const explicit = await create(ROOT_TOKEN, { explicit_max_ttl: '100000h' });
    assert.equal(explicit.lease_duration, 768 * HOUR, 'a root token with an explicit max TTL expires by it, capped');

    const tooLong = await failure(root.tokenCreate({ ttl: '9999999999999h' }));
    assert.equal(tooLong.statusCode, 400);
  });

  it('caps renewals: an increment never takes a token past its creation plus the max lease TTL', async () => {
    const token = await create(ROOT_TOKEN, { policies: ['reader'], ttl: '1h' });
    const renewed = await rawRequest(vault.addr, 'POST', 'auth/token/renew-self', {
      token: token.client_token,
      body: { increment: '1000000h' },
    });
    assert.equal(renewed.status, 200);
    const { auth, warnings } = renewed.json as { auth: Auth; warnings: string[] };
    assert.ok(auth.lease_duration <= 768 * HOUR && auth.lease_duration > 767 * HOUR, String(auth.lease_duration));
    assert.match(warnings[0]!, /^TTL of "1000000h0m0s" exceeded the effective max_ttl of "76[78]h/);

    const explicit = await create(ROOT_TOKEN, { policies: ['reader'], ttl: '10m', explicit_max_ttl: '20m' });
    const capped = (await as(explicit.client_token).tokenRenewSelf({ increment: '5h' })) as { auth: Auth };
    assert.ok(capped.auth.lease_duration <= 1200 && capped.auth.lease_duration > 1100, String(capped.auth.lease_duration));
  });

  it('takes the max lease TTL from --max-lease-ttl', async () => {
    const rootShort = vaultClient(shortMax.addr, ROOT_TOKEN);
    await rootShort.write('sys/policies/acl/reader', { policy: 'path "secret/data/*" { capabilities = ["read"] }' });
    const byDefault = await create(ROOT_TOKEN, { policies: ['reader'] }, shortMax);
    assert.equal(byDefault.lease_duration, HOUR);
    const asked = await create(ROOT_TOKEN, { policies: ['reader'], ttl: '48h' }, shortMax);
    assert.equal(asked.lease_duration, HOUR);
    const renewed = (await as(asked.client_token, shortMax).tokenRenewSelf({ increment: '1000000h' })) as { auth: Auth };
    assert.ok(renewed.auth.lease_duration <= HOUR, String(renewed.auth.lease_duration));
  });
});

describe('vault-dev token expiry', () => {
  let vault: VaultDevInstance;
  let rootToken: string;

  before(async () => {
    vault = await startVaultDev({ dev: false });
    const init = (await vaultClient(vault.addr).init({ secret_shares: 1, secret_threshold: 1 })) as {
      keys: string[];
      root_token: string;
    };
    await vaultClient(vault.addr).unseal({ key: init.keys[0]! });
    rootToken = init.root_token;
  });

  after(async () => {
    await vault?.stop();
  });

  const entryFiles = async () => (await readdir(path.join(vault.dataDir, 'entries'))).length;

  it('revokes an expired token and its descendants on a timer, without anyone using them', async () => {
    const before = await entryFiles();
    const parent = (await vaultClient(vault.addr, rootToken).tokenCreate({ ttl: '3s' })) as { auth: Auth };
    const child = (await vaultClient(vault.addr, parent.auth.client_token).tokenCreate({ ttl: '1h' })) as { auth: Auth };
    const grandchild = (await vaultClient(vault.addr, child.auth.client_token).tokenCreate({ ttl: '1h' })) as {
      auth: Auth;
    };
    const orphan = (await vaultClient(vault.addr, parent.auth.client_token).tokenCreateOrphan({ ttl: '1h' })) as {
      auth: Auth;
    };
    assert.equal(await entryFiles(), before + 4);

    // No request names any of these tokens until their entries are gone from the disk; only the orphan stays.
    await eventually('the expired tree removed from storage', async () => (await entryFiles()) === before + 1);

    const lookup = async (token: string) =>
      (await rawRequest(vault.addr, 'POST', 'auth/token/lookup', { token: rootToken, body: { token } })).status;
    assert.equal(await lookup(child.auth.client_token), 403);
    assert.equal(await lookup(grandchild.auth.client_token), 403);
    assert.equal(await lookup(orphan.auth.client_token), 200);
    const childRead = await rawRequest(vault.addr, 'GET', 'auth/token/lookup-self', { token: child.auth.client_token });
    assert.equal(childRead.status, 403);
  });
});
