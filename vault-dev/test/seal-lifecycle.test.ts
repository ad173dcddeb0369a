// vault-dev with on-disk storage, from an empty data dir: uninitialised behaviour, init with 5 shares
// and threshold 3, unseal progress, reset and wrong keys, sealing (everything 503), restart on the
// same directory (comes up sealed, unseals with a different 3 of the 5 keys, data intact), files of
// a sealed vault holding no secret in clear, and an acknowledged write surviving `kill -9`.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startVaultDev, type VaultDevInstance } from '../../test/helpers/vault-dev.js';
import { failure, rawRequest, SEALED_BODY, vaultClient } from './support.js';

const SECRET_VALUE = 'vault-dev-at-rest-canary-7f3a9c1e5b';

interface InitResult {
  keys: string[];
  keys_base64: string[];
  root_token: string;
}

interface SealStatus {
  type: string;
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
  nonce: string;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else out.push(full);
  }
  return out;
}

describe('vault-dev seal lifecycle on disk', () => {
  let dataDir: string;
  let vault: VaultDevInstance;
  let init: InitResult;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'vault-dev-seal-'));
    vault = await startVaultDev({ dataDir });
  });

  after(async () => {
    await vault?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const unseal = (key: string) => vaultClient(vault.addr).unseal({ key }) as Promise<SealStatus>;

  it('starts uninitialised: seal-status says so, logical requests are 503 sealed, unseal is refused', async () => {
    const client = vaultClient(vault.addr);
    assert.deepEqual(await client.initialized(), { initialized: false });
    const status = (await client.status()) as SealStatus;
    assert.equal(status.initialized, false);
    assert.equal(status.sealed, true);
    assert.equal(status.t, 0);
    assert.equal(status.n, 0);
    assert.equal(status.type, 'shamir');

    const read = await rawRequest(vault.addr, 'GET', 'secret/data/x', { token: 'anything' });
    assert.equal(read.status, 503);
    assert.deepEqual(read.json, SEALED_BODY);

    const refused = await failure(client.unseal({ key: 'a'.repeat(66) }));
    assert.equal(refused.statusCode, 400);
    assert.deepEqual(refused.body, { errors: ['Vault is not initialized'] });
  });

  it('rejects an invalid seal configuration with Vault\'s message', async () => {
    const bad = await failure(vaultClient(vault.addr).init({ secret_shares: 2, secret_threshold: 3 }));
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.body, { errors: ['invalid seal configuration: threshold cannot be larger than shares'] });
  });

  it('initialises with 5 shares and threshold 3, and stays sealed', async () => {
    const client = vaultClient(vault.addr);
    init = (await client.init({ secret_shares: 5, secret_threshold: 3 })) as InitResult;
    assert.equal(init.keys.length, 5);
    assert.equal(init.keys_base64.length, 5);
    for (const [i, key] of init.keys.entries()) {
      assert.match(key, /^[0-9a-f]{66}$/);
      assert.equal(Buffer.from(init.keys_base64[i]!, 'base64').toString('hex'), key);
    }
    assert.equal(new Set(init.keys).size, 5);
    assert.match(init.root_token, /^hvs\.[0-9A-Za-z]{24}$/);

    const status = (await client.status()) as SealStatus;
    assert.deepEqual([status.initialized, status.sealed, status.t, status.n, status.progress], [true, true, 3, 5, 0]);

    const again = await failure(client.init({ secret_shares: 5, secret_threshold: 3 }));
    assert.equal(again.statusCode, 400);
    assert.deepEqual(again.body, { errors: ['Vault is already initialized'] });
  });

  it('counts unseal progress, ignores a repeated key, and resets on request', async () => {
    const first = await unseal(init.keys[0]!);
    assert.equal(first.sealed, true);
    assert.equal(first.progress, 1);
    assert.match(first.nonce, /^[0-9a-f-]{36}$/);

    const repeated = await unseal(init.keys[0]!);
    assert.equal(repeated.progress, 1);
    assert.equal(repeated.nonce, first.nonce);

    const second = await unseal(init.keys_base64[1]!);
    assert.equal(second.progress, 2);
    assert.equal(second.sealed, true);

    const reset = (await vaultClient(vault.addr).unseal({ reset: true })) as SealStatus;
    assert.equal(reset.progress, 0);
    assert.equal(reset.nonce, '');
    assert.equal(reset.sealed, true);
  });

  it('rejects malformed keys and a wrong key, and starts over after a failed attempt', async () => {
    const client = vaultClient(vault.addr);
    const notKey = await failure(client.unseal({ key: 'not a key!' }));
    assert.equal(notKey.statusCode, 400);
    assert.deepEqual(notKey.body, { errors: ["'key' must be a valid hex or base64 string"] });

    const tooShort = await failure(client.unseal({ key: 'abcd' }));
    assert.equal(tooShort.statusCode, 400);
    assert.deepEqual(tooShort.body, { errors: ['invalid key: key is shorter than minimum 16 bytes'] });

    // A share with one byte changed (not its x coordinate, the last byte) combines into a wrong key.
    const tampered = Buffer.from(init.keys[2]!, 'hex');
    tampered[0] = tampered[0]! ^ 0xff;
    await unseal(init.keys[0]!);
    await unseal(init.keys[1]!);
    const wrong = await failure(client.unseal({ key: tampered.toString('hex') }));
    assert.equal(wrong.statusCode, 400);
    assert.deepEqual(wrong.body, {
      errors: [
        'unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication failed',
      ],
    });
    const status = (await client.status()) as SealStatus;
    assert.equal(status.sealed, true);
    assert.equal(status.progress, 0);
  });

  it('unseals with three valid keys', async () => {
    assert.equal((await unseal(init.keys[0]!)).progress, 1);
    assert.equal((await unseal(init.keys[2]!)).progress, 2);
    const done = await unseal(init.keys[4]!);
    assert.equal(done.sealed, false);
    assert.equal(done.progress, 0);
    assert.equal(done.nonce, '');

    const reset = await failure(vaultClient(vault.addr).unseal({ reset: true }));
    assert.equal(reset.statusCode, 400);
    assert.deepEqual(reset.body, { errors: ['vault is unsealed'] });
  });

  it('stores secrets, then answers every request with 503 "Vault is sealed" once sealed', async () => {
    const root = vaultClient(vault.addr, init.root_token);
    await root.write('secret/data/app/db', { data: { password: SECRET_VALUE } });
    const read = await root.read('secret/data/app/db');
    assert.equal(read.data.data.password, SECRET_VALUE);

    const sealed = await rawRequest(vault.addr, 'PUT', 'sys/seal', { token: init.root_token });
    assert.equal(sealed.status, 204);
    const status = (await root.status()) as SealStatus;
    assert.equal(status.sealed, true);

    const requests: Array<[string, string, unknown?]> = [
      ['GET', 'secret/data/app/db'],
      ['POST', 'secret/data/app/db', { data: { password: 'x' } }],
      ['GET', 'secret/metadata/app?list=true'],
      ['LIST', 'secret/metadata/app'],
      ['DELETE', 'secret/data/app/db'],
      ['GET', 'auth/token/lookup-self'],
      ['POST', 'auth/token/create', {}],
      ['GET', 'sys/mounts'],
      ['PUT', 'sys/policy/p', { policy: 'path "a" { capabilities = ["read"] }' }],
      ['GET', 'sys/leader'],
    ];
    for (const [method, path, body] of requests) {
      const response = await rawRequest(vault.addr, method, path, { token: init.root_token, body });
      assert.equal(response.status, 503, `${method} ${path}`);
      assert.deepEqual(response.json, SEALED_BODY, `${method} ${path}`);
    }
    const viaClient = await failure(root.read('secret/data/app/db'));
    assert.equal(viaClient.statusCode, 503);
    assert.deepEqual(viaClient.body, SEALED_BODY);
  });

  it('leaves no secret in clear in the files of a sealed vault', async () => {
    const files = await filesUnder(dataDir);
    assert.ok(files.length >= 3, `expected storage files, found ${files.join(', ')}`);
    const needles = [
      SECRET_VALUE,
      Buffer.from(SECRET_VALUE).toString('base64'),
      Buffer.from(SECRET_VALUE).toString('hex'),
      init.root_token,
      ...init.keys,
      ...init.keys_base64,
    ];
    for (const file of files) {
      const bytes = await readFile(file);
      for (const needle of needles) {
        assert.equal(bytes.includes(Buffer.from(needle)), false, `${file} contains a secret`);
      }
      assert.equal(bytes.toString('latin1').includes('app/db'), false, `${file} contains a secret path`);
    }
  });

  it('restarts sealed on the same data dir and unseals with a different 3 of the 5 keys', async () => {
    await vault.stop();
    vault = await startVaultDev({ dataDir });
    const client = vaultClient(vault.addr);
    const status = (await client.status()) as SealStatus;
    assert.deepEqual([status.initialized, status.sealed, status.t, status.n], [true, true, 3, 5]);

    await unseal(init.keys[1]!);
    await unseal(init.keys[3]!);
    assert.equal((await unseal(init.keys_base64[4]!)).sealed, false);
    const read = await vaultClient(vault.addr, init.root_token).read('secret/data/app/db');
    assert.equal(read.data.data.password, SECRET_VALUE);
    assert.equal(read.data.metadata.version, 1);
  });

  it('keeps an acknowledged write across kill -9', async () => {
    const root = vaultClient(vault.addr, init.root_token);
    const written = await root.write('secret/data/app/db', { data: { password: 'after-crash' } });
    assert.equal(written.data.version, 2);
    vault.kill('SIGKILL');
    assert.equal(await vault.exited, 'SIGKILL');

    vault = await startVaultDev({ dataDir });
    assert.equal(((await vaultClient(vault.addr).status()) as SealStatus).sealed, true);
    for (const key of init.keys.slice(0, 3)) await unseal(key);
    const read = await vaultClient(vault.addr, init.root_token).read('secret/data/app/db');
    assert.equal(read.data.data.password, 'after-crash');
    assert.equal(read.data.metadata.version, 2);
  });
});
