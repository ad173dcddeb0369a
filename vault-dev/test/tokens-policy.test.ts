// Tokens and ACL policies on a dev-mode vault-dev: a token created with a read-only policy reads
// what the policy grants and gets Vault's exact 403 elsewhere; token lookup, renewal and
// revocation; X-Vault-Token and Authorization: Bearer; the policy endpoints.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startVaultDev, type VaultDevInstance } from '../../test/helpers/vault-dev.js';
import { failure, PERMISSION_DENIED_BODY, rawRequest, vaultClient, type VaultClient } from './support.js';

const ROOT_TOKEN = 'tokens-test-root';
const INVALID_TOKEN_BODY = { errors: ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'] };

const READ_ONLY_POLICY = `
# Berth's registry credentials, read-only
path "secret/data/registries/*" {
  capabilities = ["read", "list"]
}
path "secret/metadata/registries/*" {
  capabilities = ["list"]
}
`;

describe('vault-dev tokens and policies', () => {
  let vault: VaultDevInstance;
  let root: VaultClient;

  before(async () => {
    vault = await startVaultDev({ rootToken: ROOT_TOKEN });
    root = vaultClient(vault.addr, ROOT_TOKEN);
    await root.write('secret/data/registries/docker-hub', { data: { username: 'berth', password: 'hub-pw' } });
    await root.write('secret/data/other/thing', { data: { v: 'hidden' } });
  });

  after(async () => {
    await vault?.stop();
  });

  /** Creates a token with the root client; node-vault would otherwise switch to the new token. */
  async function createToken(body: Record<string, unknown>): Promise<{ client_token: string; [k: string]: unknown }> {
    const response = await rawRequest(vault.addr, 'POST', 'auth/token/create', { token: ROOT_TOKEN, body });
    assert.equal(response.status, 200, response.text);
    return (response.json as { auth: { client_token: string } }).auth;
  }

  it('stores a policy through sys/policies/acl and sys/policy, and reads it back', async () => {
    await root.write('sys/policies/acl/registry-reader', { policy: READ_ONLY_POLICY });
    const read = await root.read('sys/policies/acl/registry-reader');
    assert.deepEqual(read.data, { name: 'registry-reader', policy: READ_ONLY_POLICY });

    await root.addPolicy({ name: 'legacy', rules: 'path "secret/data/legacy" { policy = "read" }' });
    const legacy = await root.getPolicy({ name: 'legacy' });
    assert.equal(legacy.rules, 'path "secret/data/legacy" { policy = "read" }');
    assert.equal(legacy.data.name, 'legacy');

    const listed = await root.policies();
    assert.deepEqual(listed.policies, ['default', 'legacy', 'registry-reader', 'root']);
    assert.deepEqual((await root.list('sys/policies/acl')).data.keys, ['default', 'legacy', 'registry-reader', 'root']);

    const broken = await failure(root.write('sys/policies/acl/broken', { policy: 'path "x" { capabilities = ["fly"] }' }));
    assert.equal(broken.statusCode, 400);
    assert.deepEqual(broken.body, { errors: ['failed to parse policy: path "x": invalid capability "fly"'] });

    const rootPolicy = await failure(root.delete('sys/policy/root'));
    assert.equal(rootPolicy.statusCode, 400);
  });

  it('lets a read-only token read what its policy grants and nothing else', async () => {
    const auth = await createToken({ policies: ['registry-reader'], ttl: '1h' });
    assert.match(auth.client_token, /^hvs\./);
    assert.deepEqual(auth['policies'], ['default', 'registry-reader']);
    assert.equal(auth['lease_duration'], 3600);
    assert.equal(auth['renewable'], true);
    assert.equal(auth['orphan'], false);

    const reader = vaultClient(vault.addr, auth.client_token);
    const secret = await reader.read('secret/data/registries/docker-hub');
    assert.equal(secret.data.data.password, 'hub-pw');
    assert.deepEqual((await reader.list('secret/metadata/registries/')).data.keys, ['docker-hub']);

    const write = await failure(reader.write('secret/data/registries/docker-hub', { data: { password: 'stolen' } }));
    assert.equal(write.statusCode, 403);
    assert.deepEqual(write.body, PERMISSION_DENIED_BODY);
    const create = await failure(reader.write('secret/data/registries/new', { data: { password: 'x' } }));
    assert.equal(create.statusCode, 403);
    assert.deepEqual(create.body, PERMISSION_DENIED_BODY);
    const other = await failure(reader.read('secret/data/other/thing'));
    assert.equal(other.statusCode, 403);
    assert.deepEqual(other.body, PERMISSION_DENIED_BODY);
    const mounts = await failure(reader.mounts());
    assert.equal(mounts.statusCode, 403);
    const sealAttempt = await rawRequest(vault.addr, 'PUT', 'sys/seal', { token: auth.client_token });
    assert.equal(sealAttempt.status, 403);
    assert.equal((await root.read('secret/data/registries/docker-hub')).data.data.password, 'hub-pw');
  });

  it('looks up its own token, renews and revokes it', async () => {
    const auth = await createToken({ policies: ['registry-reader'], ttl: '30m', meta: { site: 'edge-1' } });
    const self = vaultClient(vault.addr, auth.client_token);
    const lookup = await self.tokenLookupSelf();
    assert.equal(lookup.data.id, auth.client_token);
    assert.deepEqual(lookup.data.policies, ['default', 'registry-reader']);
    assert.deepEqual(lookup.data.meta, { site: 'edge-1' });
    assert.equal(lookup.data.path, 'auth/token/create');
    assert.equal(lookup.data.creation_ttl, 1800);
    assert.ok(lookup.data.ttl > 0 && lookup.data.ttl <= 1800);
    assert.equal(lookup.data.type, 'service');

    const renewed = await self.tokenRenewSelf({ increment: '2h' });
    assert.equal(renewed.auth.lease_duration, 7200);

    const revoked = await rawRequest(vault.addr, 'POST', 'auth/token/revoke-self', { token: auth.client_token });
    assert.equal(revoked.status, 204);
    const after = await failure(self.read('secret/data/registries/docker-hub'));
    assert.equal(after.statusCode, 403);
    assert.deepEqual(after.body, INVALID_TOKEN_BODY);
  });

  it('describes the root token', async () => {
    const lookup = await root.tokenLookupSelf();
    assert.equal(lookup.data.id, ROOT_TOKEN);
    assert.deepEqual(lookup.data.policies, ['root']);
    assert.equal(lookup.data.path, 'auth/token/root');
    assert.equal(lookup.data.ttl, 0);
    assert.equal(lookup.data.expire_time, null);
  });

  it('accepts Authorization: Bearer, and refuses missing and unknown tokens', async () => {
    const bearer = await rawRequest(vault.addr, 'GET', 'secret/data/registries/docker-hub', {
      headers: { Authorization: `Bearer ${ROOT_TOKEN}` },
    });
    assert.equal(bearer.status, 200);

    const missing = await rawRequest(vault.addr, 'GET', 'secret/data/registries/docker-hub');
    assert.equal(missing.status, 403);
    assert.deepEqual(missing.json, PERMISSION_DENIED_BODY);

    const unknown = await rawRequest(vault.addr, 'GET', 'secret/data/registries/docker-hub', { token: 'hvs.nope' });
    assert.equal(unknown.status, 403);
    assert.deepEqual(unknown.json, INVALID_TOKEN_BODY);
  });

  it('creates a token with a chosen id (root only) and revokes children with their parent', async () => {
    await root.write('sys/policies/acl/token-maker', {
      policy: 'path "auth/token/create" { capabilities = ["create", "update"] }',
    });
    const parent = await createToken({ id: 'chosen-token-id', policies: ['registry-reader', 'token-maker'] });
    assert.equal(parent.client_token, 'chosen-token-id');

    const parentClient = vaultClient(vault.addr, 'chosen-token-id');
    const noId = await failure(parentClient.tokenCreate({ id: 'another-id', policies: ['registry-reader'] }));
    assert.equal(noId.statusCode, 400);
    assert.deepEqual(noId.body, { errors: ['root or sudo privileges required to specify token id'] });
    const escalate = await failure(parentClient.tokenCreate({ policies: ['legacy'] }));
    assert.equal(escalate.statusCode, 400);
    assert.deepEqual(escalate.body, { errors: ['child policies must be subset of parent'] });

    const child = await parentClient.tokenCreate({ policies: ['registry-reader'], ttl: '10m' });
    const childToken = child.auth.client_token as string;
    assert.equal(child.auth.lease_duration, 600);

    await root.tokenRevoke({ token: 'chosen-token-id' });
    const childRead = await rawRequest(vault.addr, 'GET', 'secret/data/registries/docker-hub', { token: childToken });
    assert.equal(childRead.status, 403);
    assert.deepEqual(childRead.json, INVALID_TOKEN_BODY);
  });

  it('honours num_uses', async () => {
    const auth = await createToken({ policies: ['registry-reader'], num_uses: 2 });
    const client = vaultClient(vault.addr, auth.client_token);
    await client.read('secret/data/registries/docker-hub');
    await client.read('secret/data/registries/docker-hub');
    const third = await failure(client.read('secret/data/registries/docker-hub'));
    assert.equal(third.statusCode, 403);
  });
});
