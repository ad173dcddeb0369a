// The pull operation end to end: a real docker-registry (TLS, test CA) as the remote, a started Berth, and skopeo
// reading the result back from Berth's /v2. Every answer is checked against the contract. A proxy in front of the
// registry flips bytes, cuts connections and holds responses, and counts what Berth asked for.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api, errorMessage, type ApiResponse } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { createCertificateAuthority, type CertificateAuthority } from '../helpers/tls.js';
import {
  buildMultiPlatformImage,
  buildSinglePlatformImage,
  pushImage,
  type BuiltImage,
  type BuiltManifest,
} from '../helpers/oci-images.js';
import { readOciLayoutTag, skopeoCopy, skopeoInspectRaw } from '../helpers/skopeo.js';
import { startRegistryProxy, type RegistryProxy } from '../helpers/registry-proxy.js';
import { startVaultDev, type VaultDevInstance } from '../helpers/vault-dev.js';
import { randomSecret, vaultClient, writeRegistrySecret } from '../helpers/secret-values.js';

const REMOTES = '/v1/state/image-registry/remote-registries';
const REPOSITORIES = '/v1/state/image-registry/repositories';
const SAMPLE_REPOSITORY = 'avassa-public/movie-theaters-demo/kettle-popper-manager';
/** The request sample of the pull operation, verbatim. */
const PULL_SAMPLE_YAML = `image: avassa-public/movie-theaters-demo/kettle-popper-manager:v1.0
platform: x86_64
to: avassa/kettle-popper-manager
`;
/** The address the proxied registry is configured under; connections go to the proxy (override-address). */
const PROXIED = 'proxied.registry.test:5000';

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

const VAULT_ROOT_TOKEN = 'pull-test-root-token';
const REGISTRY_PASSWORD = randomSecret('pull-registry');

let ca: CertificateAuthority;
let registry: RunningRegistry;
/** The same kind of registry with htpasswd auth, its login in the secret store. */
let authenticated: RunningRegistry;
let vault: VaultDevInstance;
let proxy: RegistryProxy;
let berth: BerthProcess;
let api: Api;
let workDir: string;
const images: BuiltImage[] = [];
let multi: BuiltImage;
let single: BuiltImage;

/** Berth's /v2 for skopeo: plain HTTP on loopback, the admin token as the Basic password. */
const berthSide = () => ({ tlsVerify: false, creds: { username: 'x', password: berth.adminToken } });
const berthImage = (name: string) => `docker://${berth.url.replace('http://', '')}/${name}`;

const pullFrom = (address: string, body: unknown, contentType = 'application/json') =>
  api.post(`${REMOTES}/${address}/pull`, body, { contentType });

async function build(kind: 'multi' | 'single', seed: string, layerSizes?: number[]): Promise<BuiltImage> {
  const image = kind === 'multi'
    ? await buildMultiPlatformImage({ seed, ...(layerSizes ? { layerSizes } : {}) })
    : await buildSinglePlatformImage({ seed, ...(layerSizes ? { layerSizes } : {}) });
  images.push(image);
  return image;
}

const push = (image: BuiltImage, repository: string, tag: string) =>
  pushImage(image, { address: registry.address, caCertPem: registry.caCertPem }, repository, tag);

const manifestFor = (image: BuiltImage, architecture: string) => image.manifests.find((m) => m.platform.architecture === architecture)!;

/** Every blob of an image manifest: config and layers. */
const blobsOf = (manifest: BuiltManifest) => [manifest.config, ...manifest.layers];

/** Copies `name` out of Berth with skopeo into a fresh OCI layout and checks each blob there hashes to its digest. */
async function copyOut(name: string, all: boolean): Promise<string> {
  const layout = mkdtempSync(join(workDir, 'out-'));
  await skopeoCopy(berthImage(name), `oci:${layout}:out`, { all, src: berthSide() });
  return layout;
}

const layoutBlob = (layout: string, digest: string) => readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)));

function assertLayoutHas(layout: string, digests: string[]): void {
  for (const digest of digests) assert.equal(sha256(layoutBlob(layout, digest)), digest, `blob ${digest} in the copy`);
}

const errorInfo = (res: ApiResponse) =>
  (res.body as { errors: Array<{ 'error-info'?: Record<string, unknown> }> }).errors[0]!['error-info'] ?? {};

before(async () => {
  ca = createCertificateAuthority('Pull Test CA');
  workDir = mkdtempSync(join(tmpdir(), 'berth-pull-test-'));
  [registry, authenticated, vault] = await Promise.all([
    startDockerRegistry({ auth: { kind: 'none' }, ca }),
    startDockerRegistry({ auth: { kind: 'htpasswd', users: { puller: REGISTRY_PASSWORD } }, ca }),
    startVaultDev({ rootToken: VAULT_ROOT_TOKEN }),
  ]);
  const kv = vaultClient(vault.addr, VAULT_ROOT_TOKEN);
  await kv.mount({ mount_point: 'myvault', type: 'kv', options: { version: '2' } });
  await writeRegistrySecret(kv, 'myvault', 'registry-login', { username: 'puller', password: REGISTRY_PASSWORD });
  await writeRegistrySecret(kv, 'myvault', 'wrong-login', { username: 'puller', password: randomSecret('wrong') });
  // Four requests at once to one registry (the default is 6), so ten blobs show the bound.
  berth = await startBerth({ env: { VAULT_ADDR: vault.addr, VAULT_TOKEN: VAULT_ROOT_TOKEN, BERTH_REMOTE_FETCHES: '4' } });
  proxy = await startRegistryProxy({ port: registry.port, caCertPem: registry.caCertPem }, ca);
  api = new Api(berth.url, berth.adminToken, assertMatchesContract);
  for (const remote of [
    { address: registry.address, 'ca-cert': ca.certPem },
    { address: PROXIED, 'override-address': proxy.address, 'ca-cert': ca.certPem },
    { address: authenticated.address, 'ca-cert': ca.certPem, credentials: [{ repository: '*', vault: 'myvault', secret: 'registry-login' }] },
    // Never pulled from before the store is sealed: no secret of it is cached, so a pull must meet the store.
    {
      address: 'sealed.registry.test:5000',
      'override-address': authenticated.address,
      'ca-cert': ca.certPem,
      credentials: [{ repository: '*', vault: 'myvault', secret: 'registry-login' }],
    },
    {
      address: 'wrong-login.registry.test:5000',
      'override-address': authenticated.address,
      'ca-cert': ca.certPem,
      credentials: [{ repository: '*', vault: 'myvault', secret: 'wrong-login' }],
    },
  ]) {
    const created = await api.post('/v1/config/image-registry/remote-registries', remote);
    assert.equal(created.status, 201, created.text);
  }
  [multi, single] = await Promise.all([build('multi', 'pull-multi'), build('single', 'pull-single')]);
  await Promise.all([
    push(multi, SAMPLE_REPOSITORY, 'v1.0'),
    push(single, 'tools/single', '1'),
    pushImage(single, { address: authenticated.address, caCertPem: ca.certPem, username: 'puller', password: REGISTRY_PASSWORD }, 'private/single', '1'),
  ]);
});

after(async () => {
  try {
    await proxy?.stop();
    if (berth) assert.equal(await berth.stop(), 0);
  } finally {
    // Stopped whatever Berth's stop said: a server left running keeps this file from ever ending (seen once: the
    // suite hung here, with Berth gone and the registries and vault-dev still up).
    await Promise.all([registry?.stop(), authenticated?.stop(), vault?.stop()]);
    for (const image of images) image.remove();
    rmSync(workDir, { recursive: true, force: true });
    rmSync(ca.dir, { recursive: true, force: true });
  }
});

describe('the source document sample', () => {
  it('pulls the x86_64 image out of the index into avassa/kettle-popper-manager:latest, digests kept', async () => {
    const amd64 = manifestFor(multi, 'amd64');
    const res = await pullFrom(registry.address, PULL_SAMPLE_YAML, 'application/yaml');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { name: 'avassa/kettle-popper-manager:latest', digest: amd64.digest, 'tag-updated': true });

    const raw = await skopeoInspectRaw(berthImage('avassa/kettle-popper-manager:latest'), berthSide());
    assert.ok(raw.equals(amd64.bytes), 'the platform manifest is stored byte for byte');
    const layout = await copyOut('avassa/kettle-popper-manager:latest', false);
    assert.equal(readOciLayoutTag(layout, 'out').digest, amd64.digest);
    assertLayoutHas(layout, blobsOf(amd64).map((b) => b.digest));

    const state = await api.get(`${REPOSITORIES}/avassa%2Fkettle-popper-manager`);
    assert.equal(state.status, 200);
    assert.deepEqual(state.body, {
      name: 'avassa/kettle-popper-manager',
      tags: [{
        tag: 'latest',
        digest: amd64.digest,
        'media-type': 'application/vnd.oci.image.manifest.v1+json',
        platforms: ['linux/amd64'],
        size: amd64.size + blobsOf(amd64).reduce((n, b) => n + b.size, 0),
        updated: (state.body as { tags: Array<{ updated: string }> }).tags[0]!.updated,
        'source-index-digest': multi.digest,
      }],
    });
  });

  it('answers tag-updated: false when the tag already points there, in YAML when asked', async () => {
    const res = await api.post(`${REMOTES}/${registry.address}/pull`, PULL_SAMPLE_YAML, { contentType: 'application/yaml', accept: 'application/yaml' });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.deepEqual(res.body, { name: 'avassa/kettle-popper-manager:latest', digest: manifestFor(multi, 'amd64').digest, 'tag-updated': false });
  });
});

describe('platforms', () => {
  it('all-platforms copies the whole index, attestation included, and skopeo copies it back with identical digests', async () => {
    const res = await pullFrom(registry.address, { image: `${SAMPLE_REPOSITORY}:v1.0`, 'all-platforms': true });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { name: `${SAMPLE_REPOSITORY}:v1.0`, digest: multi.digest, 'tag-updated': true });

    const raw = await skopeoInspectRaw(berthImage(`${SAMPLE_REPOSITORY}:v1.0`), berthSide());
    assert.ok(raw.equals(multi.bytes), 'the index is stored byte for byte');
    const layout = await copyOut(`${SAMPLE_REPOSITORY}:v1.0`, true);
    assert.equal(readOciLayoutTag(layout, 'out').digest, multi.digest);
    assertLayoutHas(layout, multi.manifests.flatMap((m) => [m.digest, ...blobsOf(m).map((b) => b.digest)]));
    assert.ok(multi.attestation && layoutBlob(layout, multi.attestation.digest).equals(multi.attestation.bytes));

    const state = (await api.get(`${REPOSITORIES}/${encodeURIComponent(SAMPLE_REPOSITORY)}?fields=tags(tag;platforms)`)).body;
    assert.deepEqual(state, { tags: [{ tag: 'v1.0', platforms: ['linux/amd64', 'linux/arm64/v8'] }] });
  });

  it('takes arm64 for linux/arm64/v8, aarch64 and arm64 alike', async () => {
    const arm64 = manifestFor(multi, 'arm64');
    for (const platform of ['linux/arm64/v8', 'aarch64', 'arm64']) {
      const res = await pullFrom(registry.address, { image: `${SAMPLE_REPOSITORY}:v1.0`, platform, to: `arm/app:${platform.replace(/\//g, '-')}` });
      assert.equal(res.status, 200, res.text);
      assert.equal((res.body as { digest: string }).digest, arm64.digest, platform);
    }
    const layout = await copyOut('arm/app:aarch64', false);
    assert.equal(readOciLayoutTag(layout, 'out').digest, arm64.digest);
    assertLayoutHas(layout, blobsOf(arm64).map((b) => b.digest));
  });

  it("defaults to the host's platform", async () => {
    const wanted = process.arch === 'x64' ? 'amd64' : process.arch;
    const res = await pullFrom(registry.address, { image: `${SAMPLE_REPOSITORY}:v1.0`, to: 'host/app:v1' });
    if (wanted === 'amd64' || wanted === 'arm64') {
      assert.equal(res.status, 200, res.text);
      assert.equal((res.body as { digest: string }).digest, manifestFor(multi, wanted).digest);
    } else {
      assert.equal(res.status, 404, res.text);
    }
  });

  it('answers 404 listing the platforms the index has for one it lacks, and tags nothing', async () => {
    const res = await pullFrom(registry.address, { image: `${SAMPLE_REPOSITORY}:v1.0`, platform: 'linux/riscv64', to: 'missing/platform:v1' });
    assert.equal(res.status, 404, res.text);
    assert.match(errorMessage(res), /no image for platform linux\/riscv64; it has: linux\/amd64, linux\/arm64\/v8/);
    assert.deepEqual(errorInfo(res).available, ['linux/amd64', 'linux/arm64/v8']);
    assert.equal((await api.get(`${REPOSITORIES}/missing%2Fplatform`)).status, 404);
  });

  it('refuses platform together with all-platforms, and a malformed platform, with 400', async () => {
    const both = await pullFrom(registry.address, { image: `${SAMPLE_REPOSITORY}:v1.0`, 'all-platforms': true, platform: 'arm64' });
    assert.equal(both.status, 400);
    assert.match(errorMessage(both), /platform: not with all-platforms/);
    const malformed = await pullFrom(registry.address, { image: `${SAMPLE_REPOSITORY}:v1.0`, platform: 'linux/arm64/v8/extra' });
    assert.equal(malformed.status, 400);
    const notTrue = await pullFrom(registry.address, { image: `${SAMPLE_REPOSITORY}:v1.0`, 'all-platforms': false });
    assert.equal(notTrue.status, 400);
  });

  it('stores a single-platform image as it is, and refuses it for another named platform', async () => {
    const res = await pullFrom(registry.address, { image: 'tools/single:1', 'all-platforms': true });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { name: 'tools/single:1', digest: single.digest, 'tag-updated': true });
    const raw = await skopeoInspectRaw(berthImage('tools/single:1'), berthSide());
    assert.ok(raw.equals(single.bytes));

    const wrong = await pullFrom(registry.address, { image: 'tools/single:1', platform: 'arm64', to: 'tools/single:arm' });
    assert.equal(wrong.status, 404, wrong.text);
    assert.match(errorMessage(wrong), /it has: linux\/amd64/);
    const right = await pullFrom(registry.address, { image: 'tools/single:1', platform: 'x86_64', to: 'tools/single:amd' });
    assert.equal(right.status, 200, right.text);
  });
});

describe('references and targets', () => {
  it('pulls by digest: untagged without to, tagged with it', async () => {
    const untagged = await pullFrom(registry.address, { image: `${SAMPLE_REPOSITORY}@${multi.digest}`, 'all-platforms': true });
    assert.equal(untagged.status, 200, untagged.text);
    assert.deepEqual(untagged.body, { name: `${SAMPLE_REPOSITORY}@${multi.digest}`, digest: multi.digest, 'tag-updated': false });
    const raw = await skopeoInspectRaw(berthImage(`${SAMPLE_REPOSITORY}@${multi.digest}`), berthSide());
    assert.ok(raw.equals(multi.bytes));

    const tagged = await pullFrom(registry.address, { image: `${SAMPLE_REPOSITORY}@${multi.digest}`, 'all-platforms': true, to: 'by/digest:pinned' });
    assert.equal(tagged.status, 200, tagged.text);
    assert.deepEqual(tagged.body, { name: 'by/digest:pinned', digest: multi.digest, 'tag-updated': true });
  });

  it('retags into another repository with to, and skopeo copies the retagged image with the source digests', async () => {
    const res = await pullFrom(registry.address, { image: `${SAMPLE_REPOSITORY}:v1.0`, 'all-platforms': true, to: 'site/kettle:stable' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { name: 'site/kettle:stable', digest: multi.digest, 'tag-updated': true });
    const layout = await copyOut('site/kettle:stable', true);
    assert.equal(readOciLayoutTag(layout, 'out').digest, multi.digest);
    assertLayoutHas(layout, multi.manifests.flatMap((m) => [m.digest, ...blobsOf(m).map((b) => b.digest)]));
  });

  it('accepts an image named with the registry address in front', async () => {
    const res = await pullFrom(registry.address, { image: `${registry.address}/tools/single:1`, to: 'tools/prefixed' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { name: 'tools/prefixed:latest', digest: single.digest, 'tag-updated': true });
  });

  it('refuses a digest in to', async () => {
    const res = await pullFrom(registry.address, { image: 'tools/single:1', to: `x/y@${single.digest}` });
    assert.equal(res.status, 400);
    assert.match(errorMessage(res), /^to: must be a repository of the site registry with an optional tag/);
  });

  it('POST /v1/state/image-registry/pull takes a full reference and finds the registry by its address', async () => {
    const res = await api.post('/v1/state/image-registry/pull', { image: `${registry.address}/tools/single:1`, to: 'by/reference:v1' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { name: 'by/reference:v1', digest: single.digest, 'tag-updated': true });

    const unknown = await api.post('/v1/state/image-registry/pull', { image: 'unknown.example.com:5000/tools/single:1' });
    assert.equal(unknown.status, 404);
    assert.match(errorMessage(unknown), /names registry 'unknown\.example\.com:5000', which is not a configured remote registry/);
    const noHost = await api.post('/v1/state/image-registry/pull', { image: 'tools/single:1' });
    assert.equal(noHost.status, 400);
    assert.match(errorMessage(noHost), /name the remote registry first/);
  });
});

describe('errors', () => {
  it('404 for an unknown remote registry and for any site', async () => {
    const unknown = await pullFrom('nowhere.example.com', { image: 'a/b:1' });
    assert.equal(unknown.status, 404);
    assert.match(errorMessage(unknown), /remote registry 'nowhere\.example\.com' does not exist/);
    const site = await api.post(`${REMOTES}/${registry.address}/pull?site=edge-1`, { image: 'tools/single:1' });
    assert.equal(site.status, 404);
    assert.match(errorMessage(site), /unknown site 'edge-1'/);
  });

  it('502 with error-info.kind not-found for an image the registry does not have', async () => {
    const res = await pullFrom(registry.address, { image: 'tools/absent:1' });
    assert.equal(res.status, 502, res.text);
    assert.equal(errorInfo(res).kind, 'not-found');
    assert.equal(errorInfo(res).registry, registry.address);
  });

  it('403 for a read-only token; an operator may pull', async () => {
    const tokens: Record<string, string> = {};
    for (const role of ['read', 'operator']) {
      const created = await api.post('/v1/config/system/tokens', { name: `pull-${role}`, role });
      assert.equal(created.status, 201, created.text);
      tokens[role] = (created.body as { token: string }).token;
    }
    assert.equal((await api.withToken(tokens.read!).post(`${REMOTES}/${registry.address}/pull`, { image: 'tools/single:1' })).status, 403);
    const operator = await api.withToken(tokens.operator!).post(`${REMOTES}/${registry.address}/pull`, { image: 'tools/single:1', to: 'by/operator' });
    assert.equal(operator.status, 200, operator.text);
  });
});

describe('through a misbehaving network', () => {
  it('rejects a tampered blob with 502 naming the blob, and tags nothing', async () => {
    const image = await build('multi', 'pull-tampered');
    await push(image, 'tampered/app', 'v1');
    proxy.behaviour = { kind: 'tamper' };
    try {
      const res = await pullFrom(PROXIED, { image: 'tampered/app:v1', 'all-platforms': true });
      assert.equal(res.status, 502, res.text);
      assert.equal(errorInfo(res).kind, 'bad-response');
      assert.equal(errorInfo(res).registry, PROXIED);
      assert.match(errorMessage(res), /blob sha256:[a-f0-9]{64} of tampered\/app: the content received hashes to sha256:[a-f0-9]{64}, not to its digest/);
      assert.equal((await api.get(`${REPOSITORIES}/tampered%2Fapp`)).status, 404, 'nothing of the image is in the site registry');
      // Failed and abandoned transfers discard their staging files (the deadline only catches a leak).
      const uploads = join(berth.dataDir, 'registry', 'uploads');
      for (const deadline = Date.now() + 10_000; readdirSync(uploads).length > 0; await sleep(20)) {
        assert.ok(Date.now() < deadline, `staging files left behind: ${readdirSync(uploads).join(', ')}`);
      }
    } finally {
      proxy.behaviour = { kind: 'pass' };
    }
    // The same pull through an honest network then works.
    const res = await pullFrom(PROXIED, { image: 'tampered/app:v1', 'all-platforms': true });
    assert.equal(res.status, 200, res.text);
  });

  it('resumes a blob whose connection broke with a Range request', async () => {
    const image = await build('single', 'pull-resumed', [3 * 1024 * 1024]);
    await push(image, 'resumed/app', 'v1');
    const layer = image.manifests[0]!.layers[0]!;
    proxy.behaviour = { kind: 'cut', afterBytes: 1024 * 1024, times: 1 };
    try {
      const res = await pullFrom(PROXIED, { image: 'resumed/app:v1' });
      assert.equal(res.status, 200, res.text);
    } finally {
      proxy.behaviour = { kind: 'pass' };
    }
    const requests = proxy.blobRequests.filter((r) => r.digest === layer.digest);
    assert.equal(requests.length, 2, JSON.stringify(requests));
    assert.equal(requests[0]!.range, undefined);
    assert.match(requests[1]!.range ?? '', /^bytes=[1-9]\d*-$/, 'the second request resumes where the first broke off');
    const layout = await copyOut('resumed/app:v1', false);
    assert.equal(sha256(layoutBlob(layout, layer.digest)), layer.digest);
  });

  it('opens at most BERTH_REMOTE_FETCHES (4 here) blob downloads at once to a registry', async () => {
    // 2 platforms with a config and 3 layers each, and an attestation with a config and 1 layer: 10 blobs.
    const image = await build('multi', 'pull-bounded', [16 * 1024, 32 * 1024, 48 * 1024]);
    await push(image, 'bounded/app', 'v1');
    const seen = proxy.blobRequests.length;
    proxy.maxBlobsInFlight = 0;
    proxy.behaviour = { kind: 'gate' };
    try {
      const pulling = pullFrom(PROXIED, { image: 'bounded/app:v1', 'all-platforms': true });
      await proxy.waitForBlobRequests(seen + 4);
      // Four are held open by the proxy: a fifth may only start once one of them ends (never, until released).
      await sleep(300);
      assert.equal(proxy.blobRequests.length, seen + 4);
      proxy.release();
      const res = await pulling;
      assert.equal(res.status, 200, res.text);
    } finally {
      proxy.release();
      proxy.behaviour = { kind: 'pass' };
    }
    assert.equal(proxy.blobRequests.length, seen + 10);
    assert.equal(proxy.maxBlobsInFlight, 4);
  });

  it('two identical pulls at once both succeed and fetch each blob once', async () => {
    const image = await build('multi', 'pull-concurrent', [64 * 1024, 256 * 1024]);
    await push(image, 'concurrent/app', 'v1');
    const seen = proxy.blobRequests.length;
    proxy.behaviour = { kind: 'gate' };
    const body = { image: 'concurrent/app:v1', 'all-platforms': true };
    let second: Promise<ApiResponse> | undefined;
    try {
      const first = pullFrom(PROXIED, body);
      // The first pull is now inside its blob transfers, held by the proxy; the second arrives meanwhile.
      await proxy.waitForBlobRequests(seen + 1);
      second = pullFrom(PROXIED, body);
      await sleep(300);
      proxy.release();
      const answers = await Promise.all([first, second]);
      for (const res of answers) {
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.body, { name: 'concurrent/app:v1', digest: image.digest, 'tag-updated': true });
      }
    } finally {
      proxy.release();
      proxy.behaviour = { kind: 'pass' };
      await second?.catch(() => undefined);
    }
    for (const manifest of image.manifests) {
      for (const blob of blobsOf(manifest)) assert.equal(proxy.blobGets(blob.digest), 1, `GETs of blob ${blob.digest}`);
    }
  });
});

describe('pushing to Berth', () => {
  it('an image pushed with skopeo copy --all comes back with the same digests', async () => {
    const image = await build('multi', 'pushed-to-berth');
    await skopeoCopy(`oci:${image.layoutDir}:${image.layoutTag}`, berthImage('pushed/app:v1'), { all: true, extra: ['--preserve-digests'], dest: berthSide() });
    const layout = await copyOut('pushed/app:v1', true);
    assert.equal(readOciLayoutTag(layout, 'out').digest, image.digest);
    assertLayoutHas(layout, image.manifests.flatMap((m) => [m.digest, ...blobsOf(m).map((b) => b.digest)]));
  });
});

describe('an authenticated registry', () => {
  it('pulls with the login its credentials name in the secret store', async () => {
    const res = await pullFrom(authenticated.address, { image: 'private/single:1', to: 'private/copy:1' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { name: 'private/copy:1', digest: single.digest, 'tag-updated': true });
  });

  it('502 with error-info.kind unauthorized when the registry refuses the login', async () => {
    const res = await pullFrom('wrong-login.registry.test:5000', { image: 'private/single:1', to: 'private/refused:1' });
    assert.equal(res.status, 502, res.text);
    assert.equal(errorInfo(res).kind, 'unauthorized');
    assert.equal((await api.get(`${REPOSITORIES}/private%2Frefused`)).status, 404);
  });
});

// Last: it seals the secret store.
describe('a sealed secret store', () => {
  it('makes the pull answer 503 with Retry-After, whether Berth noticed the seal before the call or during it', async () => {
    await vaultClient(vault.addr, VAULT_ROOT_TOKEN).seal();
    for (const [path, body] of [
      [`${REMOTES}/sealed.registry.test:5000/pull`, { image: 'private/single:1' }],
      ['/v1/state/image-registry/pull', { image: 'sealed.registry.test:5000/private/single:1' }],
    ] as const) {
      const res = await api.post(path, body);
      assert.equal(res.status, 503, res.text);
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
      assert.match(errorMessage(res), /sealed/);
    }
  });
});
