// The attacks of issue 18 as regression tests, through node-vault and raw HTTP against a dev-mode
// vault-dev: prototype names as paths and policy values, JSON nested thousands deep (refused
// before anything is written, existing data still readable), sys/health codes that are no status,
// LIST ?list=false, sys/capabilities-self, response wrapping refused, and `+` matching an empty
// path segment.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodeVault from 'node-vault';
import { startVaultDev, type VaultDevInstance } from '../../test/helpers/vault-dev.js';
import { exchange, httpRequest } from './raw-socket.js';
import { failure, PERMISSION_DENIED_BODY, rawRequest, vaultClient, type VaultClient } from './support.js';

const ROOT_TOKEN = 'hostile-input-root';
const PROTOTYPE_NAMES = ['constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];
/** Far beyond any answer's time; only reached by a request that hangs. */
const ANSWER_LIMIT_MS = 30_000;

/** `{"data": <object nested depth levels deep>}`, as text: JSON.stringify would overflow first. */
function nestedData(depth: number, leaf = '"x"'): string {
  return `{"data":${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}}`;
}

describe('vault-dev under hostile input', () => {
  let vault: VaultDevInstance;
  let root: VaultClient;

  before(async () => {
    vault = await startVaultDev({ rootToken: ROOT_TOKEN });
    root = vaultClient(vault.addr, ROOT_TOKEN);
    await root.write('secret/data/app/db', { data: { password: 'kept' } });
  });

  after(async () => {
    await vault?.stop();
  });

  it('answers paths named after Object.prototype members, with and without a token', async () => {
    for (const name of PROTOTYPE_NAMES) {
      for (const target of [`/v1/${name}`, `/v1/sys/${name}`, `/v1/auth/token/${name}`, `/v1/secret/data/${name}`]) {
        const anonymous = await exchange(vault.addr, { pieces: [httpRequest('GET', target)], limitMs: ANSWER_LIMIT_MS });
        assert.equal(anonymous.hung, false, target);
        assert.equal(anonymous.status, 403, target);
        const withRoot = await rawRequest(vault.addr, 'GET', target.slice('/v1/'.length), { token: ROOT_TOKEN });
        assert.ok(withRoot.status === 404 || withRoot.status === 405, `${target}: ${withRoot.status}`);
      }
    }
    const viaClient = await failure(vaultClient(vault.addr).read('constructor'));
    assert.equal(viaClient.statusCode, 403);
    assert.deepEqual(viaClient.body, PERMISSION_DENIED_BODY);
  });

  it('refuses prototype names as legacy policy values, and serves a policy named "constructor"', async () => {
    for (const value of ['constructor', '__proto__', 'toString']) {
      const refused = await failure(root.write('sys/policies/acl/odd', { policy: `path "secret/*" { policy = "${value}" }` }));
      assert.equal(refused.statusCode, 400, value);
    }
    await root.write('sys/policies/acl/constructor', { policy: 'path "secret/data/app/*" { policy = "read" }' });
    await root.write('sys/policy/__proto__', { policy: 'path "secret/metadata/*" { capabilities = ["list"] }' });
    const created = (await vaultClient(vault.addr, ROOT_TOKEN).tokenCreate({
      policies: ['constructor', '__proto__'],
      ttl: '10m',
    })) as { auth: { client_token: string; policies: string[] } };
    assert.deepEqual(created.auth.policies, ['__proto__', 'constructor', 'default']);
    const reader = vaultClient(vault.addr, created.auth.client_token);
    assert.equal((await reader.read('secret/data/app/db')).data.data.password, 'kept');
    assert.deepEqual((await reader.list('secret/metadata/app')).data.keys, ['db']);
    assert.equal((await failure(reader.write('secret/data/app/db', { data: { password: 'x' } }))).statusCode, 403);
  });

  it('refuses KV data nested thousands deep before writing it, and keeps serving what was there', async () => {
    for (const depth of [300, 3_000, 3_250, 100_000]) {
      const response = await rawRequest(vault.addr, 'POST', 'secret/data/app/db', {
        token: ROOT_TOKEN,
        headers: { 'Content-Type': 'application/json' },
        rawBody: nestedData(depth),
      });
      assert.equal(response.status, 400, `depth ${depth}`);
      assert.match((response.json as { errors: string[] }).errors[0]!, /nesting depth exceeds the limit of 300/);
    }
    const kept = await root.read('secret/data/app/db');
    assert.deepEqual(kept.data.data, { password: 'kept' });
    assert.equal(kept.data.metadata.version, 1, 'no version was added by a refused write');

    // At the limit (300 levels with the body's own), data is stored and read back.
    const deepest = await rawRequest(vault.addr, 'POST', 'secret/data/deep', {
      token: ROOT_TOKEN,
      rawBody: nestedData(299),
    });
    assert.equal(deepest.status, 200, deepest.text);
    const read = await rawRequest(vault.addr, 'GET', 'secret/data/deep', { token: ROOT_TOKEN });
    assert.equal(read.status, 200);
    assert.equal(read.text.split('{"a":').length - 1, 299);
  });

  it('refuses a merge patch nested 20,000 deep, and oversized strings and objects', async () => {
    const patch = await rawRequest(vault.addr, 'PATCH', 'secret/data/app/db', {
      token: ROOT_TOKEN,
      headers: { 'Content-Type': 'application/merge-patch+json' },
      rawBody: nestedData(20_000, 'null'),
    });
    assert.equal(patch.status, 400);
    const big = await failure(root.write('secret/data/app/db', { data: { password: 'x'.repeat(1_048_577) } }));
    assert.equal(big.statusCode, 400);
    const wide = await failure(
      root.write('secret/data/app/db', { data: Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`k${i}`, i])) }),
    );
    assert.equal(wide.statusCode, 400);
    // A __proto__ key is data like any other, not the object's prototype (raw: axios would drop it).
    const protoPatch = await rawRequest(vault.addr, 'PATCH', 'secret/data/app/db', {
      token: ROOT_TOKEN,
      headers: { 'Content-Type': 'application/merge-patch+json' },
      rawBody: '{"data": {"__proto__": {"polluted": true}, "extra": "y"}}',
    });
    assert.equal(protoPatch.status, 200);
    const read = await rawRequest(vault.addr, 'GET', 'secret/data/app/db', { token: ROOT_TOKEN });
    assert.match(read.text, /"data":\{"password":"kept","__proto__":\{"polluted":true\},"extra":"y"\}/);
  });

  it('answers sys/health overrides that are no HTTP status with 400', async () => {
    for (const code of ['1000', '0', '-1', '99', '600', 'abc', '']) {
      const response = await rawRequest(vault.addr, 'GET', `sys/health?activecode=${code}`);
      assert.equal(response.status, 400, `activecode=${code}`);
      assert.deepEqual(response.json, { errors: [] });
    }
    assert.equal((await rawRequest(vault.addr, 'GET', 'sys/health?activecode=299')).status, 299);
  });

  it('keeps LIST a list whatever ?list says, as Vault does', async () => {
    for (const query of ['?list=false', '?list=0', '?list=maybe', '']) {
      const response = await rawRequest(vault.addr, 'LIST', `secret/metadata/app${query}`, { token: ROOT_TOKEN });
      assert.equal(response.status, 200, query);
      assert.deepEqual((response.json as { data: { keys: string[] } }).data.keys, ['db'], query);
    }
    const withVerb = nodeVault({ endpoint: vault.addr, token: ROOT_TOKEN });
    assert.deepEqual((await withVerb.list('secret/metadata/app?list=false')).data.keys, ['db']);
    // GET with list=false is a read; a forged marker header does not turn a GET into a LIST.
    const read = await rawRequest(vault.addr, 'GET', 'secret/metadata/app?list=false', {
      token: ROOT_TOKEN,
      headers: { 'X-Vault-Dev-List': 'guess' },
    });
    assert.equal(read.status, 404);
    assert.equal((await rawRequest(vault.addr, 'LIST', 'sys/health')).status, 405);
  });

  it('answers sys/capabilities-self for any token holding the default policy', async () => {
    await root.write('sys/policies/acl/caps', {
      policy: `
        path "secret/data/app/*" { capabilities = ["read", "update"] }
        path "secret/data/app/locked" { capabilities = ["deny"] }`,
    });
    const token = (await vaultClient(vault.addr, ROOT_TOKEN).tokenCreate({ policies: ['caps'], ttl: '10m' })) as {
      auth: { client_token: string };
    };
    const client = vaultClient(vault.addr, token.auth.client_token);
    const paths = ['secret/data/app/db', 'secret/data/app/locked', 'sys/mounts', '__proto__'];
    const answer = await client.write('sys/capabilities-self', { paths });
    assert.deepEqual(answer.data, {
      'secret/data/app/db': ['read', 'update'],
      'secret/data/app/locked': ['deny'],
      'sys/mounts': ['deny'],
      ['__proto__']: ['deny'],
    });
    const single = await client.write('sys/capabilities-self', { path: 'secret/data/app/db' });
    assert.deepEqual(single.data.capabilities, ['read', 'update']);
    assert.deepEqual((await root.write('sys/capabilities-self', { paths: ['x'] })).data.capabilities, ['root']);
    assert.equal((await failure(client.write('sys/capabilities-self', {}))).statusCode, 400);
  });

  it('refuses a request asking for response wrapping instead of answering it in clear', async () => {
    const wrap = { headers: { 'X-Vault-Wrap-TTL': '60s' } };
    const read = await failure(root.read('secret/data/app/db', wrap));
    assert.equal(read.statusCode, 400);
    assert.doesNotMatch(JSON.stringify(read.body), /kept/);
    assert.match((read.body as { errors: string[] }).errors[0]!, /does not implement response wrapping/);

    const write = await failure(root.write('secret/data/app/wrapped', { data: { v: 1 } }, wrap));
    assert.equal(write.statusCode, 400);
    assert.equal((await failure(root.read('secret/data/app/wrapped'))).statusCode, 404, 'the refused write did nothing');
    const token = await failure(root.tokenCreate({ requestOptions: wrap }));
    assert.equal(token.statusCode, 400);
    const unwrap = await failure(root.write('sys/wrapping/unwrap', { token: 'x' }));
    assert.equal(unwrap.statusCode, 404);
  });

  it('lets `+` match an empty segment, so a deny on secret/data/+/private covers secret/data//private', async () => {
    await root.write('sys/policies/acl/plus', {
      policy: `
        path "secret/data/*" { capabilities = ["create", "update", "read"] }
        path "secret/data/+/private" { capabilities = ["deny"] }`,
    });
    const token = (await vaultClient(vault.addr, ROOT_TOKEN).tokenCreate({ policies: ['plus'], ttl: '10m' })) as {
      auth: { client_token: string };
    };
    const client = vaultClient(vault.addr, token.auth.client_token);
    for (const path of ['secret/data/team/private', 'secret/data//private']) {
      const denied = await failure(client.write(path, { data: { v: 1 } }));
      assert.equal(denied.statusCode, 403, path);
      const raw = await rawRequest(vault.addr, 'POST', path, { token: token.auth.client_token, body: { data: { v: 1 } } });
      assert.equal(raw.status, 403, path);
    }
    assert.equal((await client.write('secret/data/team/public', { data: { v: 1 } })).data.version, 1);
    assert.equal((await failure(root.read('secret/data//private'))).statusCode, 404, 'nothing was written');
  });
});
