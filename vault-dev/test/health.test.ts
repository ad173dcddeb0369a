// sys/health: 501 while uninitialised, 503 while sealed, 200 when active, each status overridable
// with uninitcode, sealedcode and activecode as in Vault; malformed overrides are a 400; HEAD works.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startVaultDev, type VaultDevInstance } from '../../test/helpers/vault-dev.js';
import { rawRequest, vaultClient } from './support.js';

interface Health {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string;
  server_time_utc: number;
  cluster_name?: string;
  cluster_id?: string;
}

describe('vault-dev sys/health', () => {
  let vault: VaultDevInstance;

  before(async () => {
    vault = await startVaultDev({ dev: false });
  });

  after(async () => {
    await vault?.stop();
  });

  const health = (query = '') => rawRequest(vault.addr, 'GET', `sys/health${query}`);

  it('answers 501 while uninitialised, or uninitcode', async () => {
    const plain = await health();
    assert.equal(plain.status, 501);
    const body = plain.json as Health;
    assert.equal(body.initialized, false);
    assert.equal(body.sealed, true);
    assert.equal(body.standby, false);
    assert.equal(body.cluster_id, undefined);
    assert.equal((await health('?uninitcode=200')).status, 200);
    // node-vault resolves sys/health with the body whatever the status.
    assert.equal(((await vaultClient(vault.addr).health()) as Health).initialized, false);
  });

  it('answers 503 while sealed, or sealedcode; uninitcode no longer applies', async () => {
    const init = (await vaultClient(vault.addr).init({ secret_shares: 1, secret_threshold: 1 })) as {
      keys: string[];
    };
    const sealed = await health();
    assert.equal(sealed.status, 503);
    assert.deepEqual([(sealed.json as Health).initialized, (sealed.json as Health).sealed], [true, true]);
    assert.equal((await health('?sealedcode=299')).status, 299);
    assert.equal((await health('?uninitcode=200')).status, 503);

    await vaultClient(vault.addr).unseal({ key: init.keys[0]! });
  });

  it('answers 200 when active, or activecode, with the cluster identity', async () => {
    const active = await health();
    assert.equal(active.status, 200);
    const body = active.json as Health;
    assert.deepEqual([body.initialized, body.sealed, body.standby], [true, false, false]);
    assert.match(body.cluster_name ?? '', /^vault-cluster-/);
    assert.match(body.cluster_id ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(Math.abs(body.server_time_utc - Date.now() / 1000) < 3600);
    assert.equal((await health('?activecode=204')).status, 204);
    assert.equal((await health('?standbyok=true&sealedcode=299')).status, 200);
  });

  it('rejects malformed overrides with 400', async () => {
    const badCode = await health('?activecode=abc');
    assert.equal(badCode.status, 400);
    assert.deepEqual(badCode.json, { errors: [] });
    const badFlag = await health('?standbyok=maybe');
    assert.equal(badFlag.status, 400);
  });

  it('answers HEAD with the status code and no body', async () => {
    const head = await fetch(`${vault.addr}/v1/sys/health?activecode=202`, { method: 'HEAD' });
    assert.equal(head.status, 202);
    assert.equal(await head.text(), '');
  });

  it('refuses other methods with 405', async () => {
    const post = await rawRequest(vault.addr, 'POST', 'sys/health', { body: {} });
    assert.equal(post.status, 405);
    assert.deepEqual(post.json, { errors: [] });
  });
});
