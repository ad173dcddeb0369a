// Crash safety of the pull operation: Berth is killed with SIGKILL in the middle of pulling a 200 MB layer, then
// started again on the same data. No partial blob may be in the store, and the repeated pull must complete intact.
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { createCertificateAuthority, type CertificateAuthority } from '../helpers/tls.js';
import { buildSinglePlatformImage, pushImage, type BuiltImage } from '../helpers/oci-images.js';
import { readOciLayoutTag, skopeoCopy, skopeoInspectRaw } from '../helpers/skopeo.js';
import { startRegistryProxy, type RegistryProxy } from '../helpers/registry-proxy.js';
import { filesUnder } from '../helpers/files.js';

const MiB = 1024 * 1024;
const LAYER_BYTES = 200 * MiB;
/** Where the proxy stops forwarding the layer: the kill comes with this much of it in Berth's staging file. */
const STALL_AT = 64 * MiB;
const PROXIED = 'crash.registry.test:5000';

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every file under blobs/ is a whole blob: it hashes to its own name. */
async function assertOnlyWholeBlobs(dataDir: string): Promise<string[]> {
  const files = filesUnder(join(dataDir, 'registry', 'blobs'));
  for (const file of files) assert.equal(await sha256File(file), file.split('/').at(-1), `${file} hashes to its name`);
  return files.map((f) => `sha256:${f.split('/').at(-1)}`);
}

let ca: CertificateAuthority;
let registry: RunningRegistry;
let proxy: RegistryProxy;
let image: BuiltImage;
let workDir: string;
const berths: BerthProcess[] = [];

before(async () => {
  ca = createCertificateAuthority('Pull Crash Test CA');
  workDir = mkdtempSync(join(tmpdir(), 'berth-pull-crash-'));
  registry = await startDockerRegistry({ auth: { kind: 'none' }, ca });
  proxy = await startRegistryProxy({ port: registry.port, caCertPem: registry.caCertPem }, ca);
  image = await buildSinglePlatformImage({ seed: 'pull-crash', layerSizes: [LAYER_BYTES] });
  await pushImage(image, { address: registry.address, caCertPem: registry.caCertPem }, 'big/app', 'v1');
});

after(async () => {
  for (const berth of berths) await berth.stop();
  await proxy?.stop();
  await registry?.stop();
  image?.remove();
  for (const berth of berths) rmSync(berth.dataDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
  rmSync(ca.dir, { recursive: true, force: true });
});

describe('pull crash safety (SIGKILL)', () => {
  it('leaves no partial blob after a kill mid-layer, and the repeated pull completes with the source digests', async () => {
    const layer = image.manifests[0]!.layers[0]!;
    const first = await startBerth();
    berths.push(first);
    const dataDir = first.dataDir;
    const api = new Api(first.url, first.adminToken, assertMatchesContract);
    const created = await api.post('/v1/config/image-registry/remote-registries', { address: PROXIED, 'override-address': proxy.address, 'ca-cert': ca.certPem });
    assert.equal(created.status, 201, created.text);

    proxy.behaviour = { kind: 'stall', afterBytes: STALL_AT };
    const interrupted = api.post(`/v1/state/image-registry/remote-registries/${PROXIED}/pull`, { image: 'big/app:v1' }).then(
      (res) => assert.fail(`the pull answered ${res.status} although Berth was killed: ${res.text}`),
      () => 'connection lost',
    );
    await proxy.waitForStall();
    // Everything the proxy forwarded reaches Berth's staging file; the kill comes once it is all there.
    const staging = () => filesUnder(join(dataDir, 'registry', 'uploads')).map((f) => statSync(f).size);
    for (const deadline = Date.now() + 60_000; !staging().includes(STALL_AT); await sleep(20)) {
      assert.ok(Date.now() < deadline, `the staging file never reached ${STALL_AT} bytes: ${staging().join(', ')}`);
    }
    await first.kill();
    assert.equal(await interrupted, 'connection lost');
    proxy.behaviour = { kind: 'pass' };

    assert.ok(staging().includes(STALL_AT), 'the kill left the layer half-written in staging');
    const before = await assertOnlyWholeBlobs(dataDir);
    assert.ok(!before.includes(layer.digest), 'the half layer is not a blob');

    const second = await startBerth({ dataDir, adminToken: first.adminToken });
    berths.push(second);
    assert.deepEqual(filesUnder(join(dataDir, 'registry', 'uploads')), [], 'start-up removed the stale staging file');
    await assertOnlyWholeBlobs(dataDir);

    const again = await new Api(second.url, second.adminToken, assertMatchesContract).post(
      `/v1/state/image-registry/remote-registries/${PROXIED}/pull`,
      { image: 'big/app:v1' },
    );
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.body, { name: 'big/app:v1', digest: image.digest, 'tag-updated': true });
    const stored = await assertOnlyWholeBlobs(dataDir);
    for (const digest of [image.digest, image.manifests[0]!.config.digest, layer.digest]) assert.ok(stored.includes(digest), digest);

    const host = second.url.replace('http://', '');
    const berthSide = { tlsVerify: false, creds: { username: 'x', password: second.adminToken } };
    const raw = await skopeoInspectRaw(`docker://${host}/big/app:v1`, berthSide);
    assert.ok(raw.equals(image.bytes));
    const layout = join(workDir, 'copied');
    await skopeoCopy(`docker://${host}/big/app:v1`, `oci:${layout}:v1`, { src: berthSide });
    assert.equal(readOciLayoutTag(layout, 'v1').digest, image.digest);
    assert.equal(`sha256:${await sha256File(join(layout, 'blobs', 'sha256', layer.digest.slice('sha256:'.length)))}`, layer.digest);
  });
});
