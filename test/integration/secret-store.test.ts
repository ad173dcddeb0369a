// Berth with a real Vault-compatible secret store (vault-dev): credentials read per repository, clear errors for
// missing, forbidden and malformed secrets, and the 503 while the store is sealed or unreachable, recovering
// without a restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startVaultDev, type VaultDevInstance } from '../helpers/vault-dev.js';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api, errorMessage, type ApiResponse } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { assertNoSecretIn, randomSecret, registerBasicCredential, registerSecretValue, vaultClient, writeRegistrySecret } from '../helpers/secret-values.js';
import { VaultSecretStore } from '../../src/secrets/secret-store.js';
import { registryCredentials } from '../../src/secrets/registry-credentials.js';
import { BerthError } from '../../src/errors.js';
import { eventually } from '../helpers/eventually.js';

const ROOT = `root-${Math.random().toString(36).slice(2)}`;

describe('credentials from the secret store', () => {
  let vd: VaultDevInstance;
  let store: VaultSecretStore;
  const password = randomSecret('pw');
  const token = randomSecret('tok');

  before(async () => {
    vd = await startVaultDev({ rootToken: ROOT });
    const client = vaultClient(vd.addr, ROOT);
    await writeRegistrySecret(client, 'secret', 'registry/basic', { username: 'reader', password });
    await writeRegistrySecret(client, 'secret', 'registry/token', { token });
    await writeRegistrySecret(client, 'secret', 'registry/neither', { user: 'someone-only' });
    await client.write('sys/mounts/myvault', { type: 'kv', options: { version: '2' } });
    await writeRegistrySecret(client, 'myvault', 'a', { username: 'user-a', password: randomSecret('a') });
    store = new VaultSecretStore({ address: vd.addr, token: ROOT });
  });
  after(() => vd.stop());

  const registry = {
    address: 'registry.example.com',
    credentials: [
      { repository: '*', vault: 'myvault', secret: 'a' },
      { repository: 'basic', vault: 'secret', secret: 'registry/basic' },
      { repository: 'bearer', vault: 'secret', secret: 'registry/token' },
      { repository: 'missing', vault: 'secret', secret: 'registry/nothing-here' },
      { repository: 'malformed', vault: 'secret', secret: 'registry/neither' },
    ],
  };

  const failure = async (promise: Promise<unknown>): Promise<BerthError> => {
    try {
      await promise;
    } catch (e) {
      assert.ok(e instanceof BerthError, String(e));
      assertNoSecretIn(e.message, 'an error message');
      return e;
    }
    return assert.fail('expected a failure');
  };

  it('reads username/password or token for the entry that matches the repository', async () => {
    const credentialFor = registryCredentials(registry, store);
    assert.deepEqual(await credentialFor('basic/app'), { username: 'reader', password });
    assert.deepEqual(await credentialFor('bearer'), { token });
    assert.equal(((await credentialFor('redis')) as { username: string }).username, 'user-a');
    assert.equal(((await credentialFor('*')) as { username: string }).username, 'user-a');
    assert.equal(await registryCredentials({ address: 'x.example.com' }, store)('anything'), undefined);
  });

  it('a missing or malformed secret is a clear error naming vault and secret, never its content', async () => {
    const credentialFor = registryCredentials(registry, store);
    const missing = await failure(credentialFor('missing/x'));
    assert.equal(missing.kind, 'upstream-failure');
    assert.match(missing.message, /secret 'registry\/nothing-here' in vault 'secret' does not exist/);
    const malformed = await failure(credentialFor('malformed'));
    assert.match(malformed.message, /secret 'registry\/neither' in vault 'secret' has neither username and password nor token/);
    assert.ok(!malformed.message.includes('someone-only'));
  });

  it('a secret Berth’s token may not read is a clear error; a read-only token reads what it is granted', async () => {
    const root = vaultClient(vd.addr, ROOT);
    await root.write('sys/policies/acl/registry-reader', { policy: 'path "secret/data/registry/basic" { capabilities = ["read"] }' });
    const created = (await root.tokenCreate({ policies: ['registry-reader'] })) as { auth: { client_token: string } };
    const limited = new VaultSecretStore({ address: vd.addr, token: created.auth.client_token });
    const credentialFor = registryCredentials(registry, limited);
    assert.deepEqual(await credentialFor('basic'), { username: 'reader', password });
    const denied = await failure(credentialFor('bearer'));
    assert.match(denied.message, /secret 'registry\/token' in vault 'secret' cannot be read with Berth's secret store token/);
  });

  it('without a secret store, an entry that needs one is an error, not anonymous access', async () => {
    const e = await failure(registryCredentials(registry, undefined)('basic'));
    assert.match(e.message, /needs secret 'registry\/basic' in vault 'secret', but no secret store is configured/);
  });
});

describe('Berth while the secret store is sealed', () => {
  let vd: VaultDevInstance;
  let berth: BerthProcess;
  let api: Api;
  let unsealKey: string;

  before(async () => {
    vd = await startVaultDev({ rootToken: ROOT });
    unsealKey = /Unseal Key: (\S+)/.exec(vd.output())![1]!;
    berth = await startBerth({ env: { VAULT_ADDR: vd.addr, VAULT_TOKEN: ROOT } });
    api = new Api(berth.url, berth.adminToken, assertMatchesContract);
    assert.equal((await api.post('/v1/config/image-registry/remote-registries', { address: 'sealed.example.com' })).status, 201);
  });
  after(async () => {
    await berth.stop();
    await vd.stop();
  });

  // One request of every /v1 route family.
  const everyFamily = (): Promise<ApiResponse>[] => [
    api.get('/v1/config/image-registry/remote-registries'),
    api.get('/v1/config/image-registry/remote-registries/sealed.example.com'),
    api.post('/v1/config/image-registry/remote-registries', { address: 'new.example.com' }),
    api.put('/v1/config/image-registry/remote-registries/sealed.example.com', { address: 'sealed.example.com' }),
    api.patch('/v1/config/image-registry/remote-registries/sealed.example.com', {}),
    api.delete('/v1/config/image-registry/remote-registries/sealed.example.com'),
    api.get('/v1/state/image-registry/remote-registries'),
    api.get('/v1/state/image-registry/remote-registries/sealed.example.com'),
    api.get('/v1/config/system/tokens'),
    new Api(berth.url, berth.adminToken).post('/v1/state/image-registry/remote-registries/sealed.example.com/list-repositories', {}),
  ];

  it('answers 503 with Retry-After on every /v1 route family, keeps /healthz, reports it in /readyz, and recovers on unseal', async () => {
    const ready = await fetch(`${berth.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { checks: Record<string, string> }).checks['secret-store'], 'unsealed');

    const root = vaultClient(vd.addr, ROOT);
    await root.write('sys/seal', {});
    await eventually('Berth seeing the seal', async () => (await api.get('/v1/config/image-registry/remote-registries')).status === 503, 20_000);
    for (const res of await Promise.all(everyFamily())) {
      assert.equal(res.status, 503, res.text);
      assert.match(errorMessage(res), /secret store is sealed/);
      assert.equal(res.headers.get('retry-after'), '5');
    }
    assert.equal((await fetch(`${berth.url}/healthz`)).status, 200);
    const notReady = await fetch(`${berth.url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.equal(((await notReady.json()) as { checks: Record<string, string> }).checks['secret-store'], 'sealed');

    await root.unseal({ key: unsealKey });
    const unsealedAt = Date.now();
    await eventually('recovery after unseal', async () => (await api.get('/v1/config/image-registry/remote-registries')).status === 200, 20_000);
    const recovery = Date.now() - unsealedAt;
    assert.ok(recovery < 10_000, `recovered in ${recovery} ms`);
    assert.equal(berth.process.exitCode, null, 'Berth was not restarted');
    assert.equal((await api.get('/v1/config/image-registry/remote-registries/sealed.example.com')).status, 200);
  });

  it('an unreachable secret store is a 503 with its own message, which does not name the store; callers without a token get 401', async () => {
    await vd.stop();
    await eventually('Berth seeing the store gone', async () => (await api.get('/v1/config/image-registry/remote-registries')).status === 503, 20_000);
    const res = await api.get('/v1/state/image-registry/remote-registries');
    assert.equal(res.status, 503);
    assert.match(errorMessage(res), /^the secret store is unreachable/);
    const { host, port } = new URL(vd.addr);
    assert.ok(!res.text.includes(host) && !res.text.includes(port), `the answer names the secret store: ${res.text}`);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal((await fetch(`${berth.url}/healthz`)).status, 200);

    // Authentication comes before the seal gate: a flood of callers without a token learns nothing and logs no error.
    for (let i = 0; i < 50; i++) {
      const anonymous = await api.get('/v1/config/image-registry/remote-registries', { token: i % 2 === 0 ? null : `wrong-token-${i}` });
      assert.equal(anonymous.status, 401, anonymous.text);
      assert.ok(!anonymous.text.includes(host) && !anonymous.text.includes('secret store'), anonymous.text);
    }
    const errorLines = berth.output().split('\n').filter((line) => /"level":(50|60)/.test(line));
    assert.deepEqual(errorLines, [], 'no error-level line since Berth started: the seal, the outage and the flood are all designed');
    // The designed 503 itself is logged at warn, without a stack.
    const answered = berth.output().split('\n').filter((line) => line.includes('"statusCode":503'));
    assert.ok(answered.length > 0, 'the 503s are in the request log');
    for (const line of answered) {
      assert.match(line, /"level":40/);
      assert.ok(!line.includes('"stack"'), line);
    }
  });
});

describe('the leak watch itself', () => {
  it('catches a registered secret value in a text, as is and in every encoding, inside longer texts too', () => {
    const value = randomSecret('watch');
    registerSecretValue(value);
    assert.doesNotThrow(() => assertNoSecretIn('nothing to see', 'a text'));
    const bytes = Buffer.from(value);
    const leaks = {
      'as is': `... ${value} ...`,
      base64: bytes.toString('base64'),
      // Inside a longer encoded text, at each of the three byte alignments base64 has.
      'base64 at offset 1': Buffer.concat([Buffer.from('x'), bytes, Buffer.from('yz')]).toString('base64'),
      'base64 at offset 2': Buffer.from(`{"p":"${value}"}`).toString('base64'),
      base64url: Buffer.concat([Buffer.from('?~'), bytes]).toString('base64url'),
      hex: `0x${bytes.toString('hex')}`,
    };
    for (const [form, text] of Object.entries(leaks)) assert.throws(() => assertNoSecretIn(text, 'a text'), /leaked/, form);
    // Characters that encodings change: percent-encoding (a URL, a form body) and JSON escapes.
    const special = `p@ss w/rd "q" ${randomSecret('special')}`;
    registerSecretValue(special);
    assert.throws(() => assertNoSecretIn(`?password=${encodeURIComponent(special)}&x=1`, 'a URL'), /leaked/);
    assert.throws(() => assertNoSecretIn(JSON.stringify({ password: special }), 'a JSON body'), /leaked/);
  });

  it('catches a user name and password as HTTP Basic credentials (base64 of user:password)', () => {
    const password = randomSecret('basic');
    registerBasicCredential('puller', password);
    assert.throws(() => assertNoSecretIn(`authorization: Basic ${Buffer.from(`puller:${password}`).toString('base64')}`, 'a log line'), /leaked/);
    // The user name alone is no secret.
    assert.doesNotThrow(() => assertNoSecretIn(`user puller, Basic ${Buffer.from('puller:').toString('base64')}`, 'a log line'));
  });
});
