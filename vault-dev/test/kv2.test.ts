// The KV version 2 engine through node-vault against a dev-mode vault-dev: versions and
// ?version=N, check-and-set, soft delete, undelete, destroy, metadata, listing (GET ?list and the
// LIST verb), JSON merge patch, max_versions, mounting another KV v2 engine, and Vault's 404s.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodeVault from 'node-vault';
import { startVaultDev, type VaultDevInstance } from '../../test/helpers/vault-dev.js';
import { failure, rawRequest, vaultClient, type VaultClient } from './support.js';

const ROOT_TOKEN = 'kv2-test-root';

describe('vault-dev KV v2', () => {
  let vault: VaultDevInstance;
  let kv: VaultClient;

  before(async () => {
    vault = await startVaultDev({ rootToken: ROOT_TOKEN });
    kv = vaultClient(vault.addr, ROOT_TOKEN);
  });

  after(async () => {
    await vault?.stop();
  });

  it('answers writes and reads in the Vault envelope', async () => {
    const written = await kv.write('secret/data/envelope', { data: { user: 'berth', password: 'p1' } });
    assert.equal(written.lease_id, '');
    assert.equal(written.renewable, false);
    assert.equal(written.lease_duration, 0);
    assert.equal(written.wrap_info, null);
    assert.equal(written.warnings, null);
    assert.equal(written.auth, null);
    assert.match(written.request_id, /^[0-9a-f-]{36}$/);
    assert.equal(written.data.version, 1);
    assert.equal(written.data.destroyed, false);
    assert.equal(written.data.deletion_time, '');
    assert.equal(written.data.custom_metadata, null);
    assert.ok(!Number.isNaN(Date.parse(written.data.created_time)));

    const read = await kv.read('secret/data/envelope');
    assert.deepEqual(read.data.data, { user: 'berth', password: 'p1' });
    assert.deepEqual(read.data.metadata, {
      created_time: written.data.created_time,
      custom_metadata: null,
      deletion_time: '',
      destroyed: false,
      version: 1,
    });
  });

  it('keeps versions and reads a given one with ?version=N', async () => {
    await kv.write('secret/data/versions', { data: { v: 'one' } });
    await kv.write('secret/data/versions', { data: { v: 'two' } });
    const third = await kv.write('secret/data/versions', { data: { v: 'three' } });
    assert.equal(third.data.version, 3);

    assert.equal((await kv.read('secret/data/versions')).data.data.v, 'three');
    const second = await kv.read('secret/data/versions?version=2');
    assert.equal(second.data.data.v, 'two');
    assert.equal(second.data.metadata.version, 2);
    assert.equal((await kv.read('secret/data/versions?version=0')).data.data.v, 'three');

    const missing = await failure(kv.read('secret/data/versions?version=9'));
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.body, { errors: [] });
  });

  it('applies check-and-set: succeeds on the current version, fails otherwise', async () => {
    const created = await kv.write('secret/data/cas', { options: { cas: 0 }, data: { n: 1 } });
    assert.equal(created.data.version, 1);
    const createAgain = await failure(kv.write('secret/data/cas', { options: { cas: 0 }, data: { n: 9 } }));
    assert.equal(createAgain.statusCode, 400);
    assert.deepEqual(createAgain.body, { errors: ['check-and-set parameter did not match the current version'] });

    const updated = await kv.write('secret/data/cas', { options: { cas: 1 }, data: { n: 2 } });
    assert.equal(updated.data.version, 2);
    const stale = await failure(kv.write('secret/data/cas', { options: { cas: 1 }, data: { n: 3 } }));
    assert.equal(stale.statusCode, 400);
    assert.deepEqual(stale.body, { errors: ['check-and-set parameter did not match the current version'] });
    assert.equal((await kv.read('secret/data/cas')).data.data.n, 2);

    await kv.write('secret/metadata/cas', { cas_required: true });
    const required = await failure(kv.write('secret/data/cas', { data: { n: 4 } }));
    assert.equal(required.statusCode, 400);
    assert.deepEqual(required.body, { errors: ['check-and-set parameter required for this call'] });
  });

  it('requires data on writes', async () => {
    const noData = await failure(kv.write('secret/data/no-data', { options: {} }));
    assert.equal(noData.statusCode, 400);
    assert.deepEqual(noData.body, { errors: ['no data provided'] });
  });

  it('soft-deletes the latest version, answering 404 with the version metadata, and undeletes it', async () => {
    await kv.write('secret/data/soft', { data: { v: 1 } });
    await kv.write('secret/data/soft', { data: { v: 2 } });
    const deleted = await rawRequest(vault.addr, 'DELETE', 'secret/data/soft', { token: ROOT_TOKEN });
    assert.equal(deleted.status, 204);

    const gone = await rawRequest(vault.addr, 'GET', 'secret/data/soft', { token: ROOT_TOKEN });
    assert.equal(gone.status, 404);
    const body = gone.json as { data: { data: unknown; metadata: { version: number; deletion_time: string } } };
    assert.equal(body.data.data, null);
    assert.equal(body.data.metadata.version, 2);
    assert.notEqual(body.data.metadata.deletion_time, '');
    assert.equal((await failure(kv.read('secret/data/soft'))).statusCode, 404);
    assert.equal((await kv.read('secret/data/soft?version=1')).data.data.v, 1);

    await kv.write('secret/undelete/soft', { versions: [2] });
    const back = await kv.read('secret/data/soft');
    assert.equal(back.data.data.v, 2);
    assert.equal(back.data.metadata.deletion_time, '');
  });

  it('soft-deletes chosen versions through delete/, and rejects an empty version list', async () => {
    await kv.write('secret/data/multi', { data: { v: 1 } });
    await kv.write('secret/data/multi', { data: { v: 2 } });
    await kv.write('secret/data/multi', { data: { v: 3 } });
    await kv.write('secret/delete/multi', { versions: [1, 2] });
    assert.equal((await failure(kv.read('secret/data/multi?version=1'))).statusCode, 404);
    assert.equal((await failure(kv.read('secret/data/multi?version=2'))).statusCode, 404);
    assert.equal((await kv.read('secret/data/multi')).data.data.v, 3);

    const empty = await failure(kv.write('secret/delete/multi', { versions: [] }));
    assert.equal(empty.statusCode, 400);
    assert.deepEqual(empty.body, { errors: ['No version number provided'] });
  });

  it('destroys versions for good: undelete cannot bring them back', async () => {
    await kv.write('secret/data/destroy', { data: { v: 1 } });
    await kv.write('secret/data/destroy', { data: { v: 2 } });
    await kv.write('secret/destroy/destroy', { versions: [1] });
    const destroyed = await rawRequest(vault.addr, 'GET', 'secret/data/destroy?version=1', { token: ROOT_TOKEN });
    assert.equal(destroyed.status, 404);
    const body = destroyed.json as { data: { data: unknown; metadata: { destroyed: boolean } } };
    assert.equal(body.data.data, null);
    assert.equal(body.data.metadata.destroyed, true);

    await kv.write('secret/undelete/destroy', { versions: [1] });
    assert.equal((await failure(kv.read('secret/data/destroy?version=1'))).statusCode, 404);
    assert.equal((await kv.read('secret/data/destroy')).data.data.v, 2);

    // destroySecretVersions is node-vault's call for the same endpoint.
    await kv.destroySecretVersions({ path: 'destroy', versions: [2] });
    assert.equal((await failure(kv.read('secret/data/destroy'))).statusCode, 404);
  });

  it('reads and writes key metadata, and deleting metadata removes every version', async () => {
    await kv.write('secret/data/meta', { data: { v: 1 } });
    await kv.write('secret/data/meta', { data: { v: 2 } });
    await kv.write('secret/metadata/meta', { max_versions: 5, custom_metadata: { owner: 'berth' } });
    const meta = await kv.read('secret/metadata/meta');
    assert.equal(meta.data.current_version, 2);
    assert.equal(meta.data.oldest_version, 0);
    assert.equal(meta.data.max_versions, 5);
    assert.equal(meta.data.cas_required, false);
    assert.equal(meta.data.delete_version_after, '0s');
    assert.deepEqual(meta.data.custom_metadata, { owner: 'berth' });
    assert.deepEqual(Object.keys(meta.data.versions).sort(), ['1', '2']);
    assert.equal(meta.data.versions['1'].destroyed, false);
    assert.equal(meta.data.versions['1'].deletion_time, '');
    assert.equal((await kv.read('secret/data/meta')).data.metadata.custom_metadata.owner, 'berth');

    const deleted = await rawRequest(vault.addr, 'DELETE', 'secret/metadata/meta', { token: ROOT_TOKEN });
    assert.equal(deleted.status, 204);
    const gone = await failure(kv.read('secret/metadata/meta'));
    assert.equal(gone.statusCode, 404);
    assert.deepEqual(gone.body, { errors: [] });
    assert.equal((await failure(kv.read('secret/data/meta?version=1'))).statusCode, 404);
  });

  it('keeps at most max_versions versions', async () => {
    await kv.write('secret/metadata/bounded', { max_versions: 2 });
    for (let i = 1; i <= 4; i++) await kv.write('secret/data/bounded', { data: { i } });
    const meta = await kv.read('secret/metadata/bounded');
    assert.deepEqual(Object.keys(meta.data.versions).sort(), ['3', '4']);
    assert.equal(meta.data.oldest_version, 3);
    assert.equal((await failure(kv.read('secret/data/bounded?version=2'))).statusCode, 404);
  });

  it('lists keys and folders with GET ?list=1 and with the LIST verb; an empty list is a 404', async () => {
    await kv.write('secret/data/tree/a', { data: { v: 1 } });
    await kv.write('secret/data/tree/b', { data: { v: 1 } });
    await kv.write('secret/data/tree/sub/c', { data: { v: 1 } });

    const listed = await kv.list('secret/metadata/tree');
    assert.deepEqual(listed.data.keys, ['a', 'b', 'sub/']);
    assert.deepEqual((await kv.list('secret/metadata/tree/sub/')).data.keys, ['c']);

    // node-vault's default sends the LIST method, which Node's HTTP parser does not know.
    const withVerb = nodeVault({ endpoint: vault.addr, token: ROOT_TOKEN });
    assert.deepEqual((await withVerb.list('secret/metadata/tree')).data.keys, ['a', 'b', 'sub/']);
    const raw = await rawRequest(vault.addr, 'LIST', 'secret/metadata/tree?ignored=1', { token: ROOT_TOKEN });
    assert.equal(raw.status, 200);
    assert.deepEqual((raw.json as { data: { keys: string[] } }).data.keys, ['a', 'b', 'sub/']);

    const empty = await failure(kv.list('secret/metadata/no-such-folder'));
    assert.equal(empty.statusCode, 404);
    assert.deepEqual(empty.body, { errors: [] });
  });

  it('answers 404 {"errors":[]} for a missing secret, and unsupported paths like Vault', async () => {
    const missing = await failure(kv.read('secret/data/does/not/exist'));
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.body, { errors: [] });

    const bare = await failure(kv.read('secret/not-a-kv2-path'));
    assert.equal(bare.statusCode, 404);
    assert.deepEqual(bare.body, { errors: ['1 error occurred:\n\t* unsupported path\n\n'] });

    const noMount = await failure(kv.read('nomount/data/x'));
    assert.equal(noMount.statusCode, 404);
    assert.deepEqual(noMount.body, { errors: ['no handler for route "nomount/data/x". route entry not found.'] });

    const trailing = await failure(kv.write('secret/data/folder/', { data: { v: 1 } }));
    assert.equal(trailing.statusCode, 400);
    assert.deepEqual(trailing.body, { errors: ["cannot write to a path ending in '/'"] });
  });

  it('patches the current version with a JSON merge patch', async () => {
    await kv.write('secret/data/patch', { data: { keep: 'k', change: 'old', drop: 'd' } });
    const patched = await kv.update('secret/data/patch', { data: { change: 'new', drop: null } });
    assert.equal(patched.data.version, 2);
    assert.deepEqual((await kv.read('secret/data/patch')).data.data, { keep: 'k', change: 'new' });

    const wrongType = await rawRequest(vault.addr, 'PATCH', 'secret/data/patch', {
      token: ROOT_TOKEN,
      body: { data: { a: 1 } },
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(wrongType.status, 415);
  });

  it('mounts another KV v2 engine through sys/mounts and lists it', async () => {
    await kv.mount({ mount_point: 'team-kv', type: 'kv', options: { version: '2' }, description: 'team' });
    const mounts = await kv.mounts();
    assert.equal(mounts.data['team-kv/'].type, 'kv');
    assert.deepEqual(mounts.data['team-kv/'].options, { version: '2' });
    assert.equal(mounts.data['secret/'].type, 'kv');
    assert.equal(mounts['secret/'].type, 'kv', 'sys/mounts also puts the table at the top level');

    await kv.write('team-kv/data/x', { data: { v: 'team' } });
    assert.equal((await kv.read('team-kv/data/x')).data.data.v, 'team');
    assert.equal((await failure(kv.read('secret/data/x'))).statusCode, 404);

    const taken = await failure(kv.mount({ mount_point: 'team-kv', type: 'kv', options: { version: '2' } }));
    assert.equal(taken.statusCode, 409);
    assert.deepEqual(taken.body, { errors: ['path is already in use at team-kv/'] });

    await kv.unmount({ mount_point: 'team-kv' });
    assert.equal((await failure(kv.read('team-kv/data/x'))).statusCode, 404);
  });
});
