// verify-credentials, list-repositories and list-images through a started Berth against real docker-registry servers
// (TLS + htpasswd, token auth with per-user grants, reached through override-address), credentials in vault-dev.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import nodeVault from 'node-vault';
import { Api, errorMessage, type ApiResponse } from '../helpers/api.js';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { freePort } from '../helpers/free-port.js';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  buildMultiPlatformImage,
  buildSinglePlatformImage,
  pushImage,
  pushManyTags,
  type BuiltImage,
  type PushTarget,
  type PushedTag,
} from '../helpers/oci-images.js';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from '../helpers/tls.js';
import { startTokenIssuer, type RunningTokenIssuer } from '../helpers/token-issuer.js';
import { startVaultDev, type VaultDevInstance } from '../helpers/vault-dev.js';

const LIST = '/v1/config/image-registry/remote-registries';
const STATE = '/v1/state/image-registry/remote-registries';
const YAML = 'application/yaml';
const VAULT_ROOT_TOKEN = 'remote-registry-operations-root';

/** One password per registry user; the secrets a, b, c of the source document hold user-a, user-b, user-c. */
const PASSWORDS = {
  pusher: 'pusher-pw-Qx81',
  'user-a': 'secret-a-pw-Lm27',
  'user-b': 'secret-b-pw-Zr64',
  'user-c': 'secret-c-pw-Hd93',
} as const;
const WRONG_PASSWORD = 'wrong-pw-Vb55';
const ALL_SECRET_VALUES = [...Object.values(PASSWORDS), WRONG_PASSWORD];

const KETTLE = 'avassa-public/movie-theaters-demo/kettle-popper-manager';
const CURTAIN = 'avassa-public/movie-theaters-demo/curtain-controller';
const DAM = 'avassa-public/digital-assets-manager';
const REDIS = 'redis';
const MANY = 'avassa-public/many-tags';
const MANY_TAG_COUNT = 120;

/** The source document's credentials. */
const SAMPLE_CREDENTIALS = [
  { repository: '*', vault: 'myvault', secret: 'a' },
  { repository: 'avassa-public', vault: 'myvault', secret: 'b' },
  { repository: 'avassa-public/digital-assets-manager', vault: 'myvault', secret: 'c' },
];

let ca: CertificateAuthority;
let vault: VaultDevInstance;
let htpasswdRegistry: RunningRegistry;
let tokenRegistry: RunningRegistry;
let openRegistry: RunningRegistry;
let issuer: RunningTokenIssuer;
let berth: BerthProcess;
let api: Api;
let operatorApi: Api;
let readApi: Api;
let kettleLatest: BuiltImage;
let kettleV1: BuiltImage;
let curtain: BuiltImage;
let redis: BuiltImage;
let manyTags: PushedTag[];
/** `host:port` of an HTTPS server that is not a registry, of one that is but has no catalog, and of a closed port. */
let webServerAddress: string;
let catalogLessAddress: string;
let closedPortAddress: string;
const servers: Server[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

/** Every answer: documented in the contract, and free of any secret value. */
function inspect(method: string, path: string, res: ApiResponse): void {
  assertMatchesContract(method, path, res);
  for (const secret of ALL_SECRET_VALUES) assert.ok(!res.text.includes(secret), `${method} ${path}: a password leaked into the answer`);
}

const operation = (address: string, name: string) => `${STATE}/${address}/${name}`;

async function addRegistry(body: Record<string, unknown>): Promise<void> {
  const created = await api.post(LIST, body);
  assert.equal(created.status, 201, created.text);
}

/** An HTTPS server on loopback with a certificate from the test CA, answering with `handler`. */
async function httpsServer(name: string, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const cert = issueServerCertificate(ca, name);
  const server = createServer({ key: cert.keyPem, cert: cert.certPem }, handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const platformOf = (p: { os: string; architecture: string; variant?: string }) => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/** The list-images entry of a multi-platform image, as the source document's sample shows one. */
function indexEntry(address: string, repository: string, tag: string, image: BuiltImage) {
  return {
    name: `${address}/${repository}:${tag}`,
    digest: image.digest,
    'image-index': {
      'media-type': OCI_INDEX,
      annotations: {},
      manifests: image.manifests.map((m) => ({
        digest: m.digest,
        'media-type': OCI_MANIFEST,
        platform: platformOf(m.platform),
        annotations: m.annotations ?? {},
      })),
    },
  };
}

function manifestEntry(address: string, repository: string, tag: string, image: BuiltImage) {
  return {
    name: `${address}/${repository}:${tag}`,
    digest: image.digest,
    manifest: { 'media-type': OCI_MANIFEST, platform: platformOf(image.manifests[0]!.platform), annotations: {} },
  };
}

before(async () => {
  ca = createCertificateAuthority('Berth Remote Registry Operations Test CA');
  cleanups.push(() => rmSync(ca.dir, { recursive: true, force: true }));

  const vaultStarted = startVaultDev({ rootToken: VAULT_ROOT_TOKEN });
  issuer = await startTokenIssuer({
    ca,
    users: {
      pusher: { password: PASSWORDS.pusher, pull: ['*'], push: ['*'], catalog: true },
      // Each repository is readable with its own secret only: redis with a, the movie-theaters demo with b, DAM with c.
      'user-a': { password: PASSWORDS['user-a'], pull: [REDIS], catalog: true },
      'user-b': { password: PASSWORDS['user-b'], pull: ['avassa-public/movie-theaters-demo/*'] },
      'user-c': { password: PASSWORDS['user-c'], pull: [DAM] },
    },
  });
  cleanups.push(() => issuer.stop());
  [htpasswdRegistry, tokenRegistry, openRegistry] = await Promise.all([
    startDockerRegistry({ ca, auth: { kind: 'htpasswd', users: { ...PASSWORDS } } }),
    startDockerRegistry({
      ca,
      auth: { kind: 'token', realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, rootCertBundlePem: issuer.rootCertBundlePem },
    }),
    startDockerRegistry({ ca, auth: { kind: 'none' } }),
  ]);
  cleanups.push(() => htpasswdRegistry.stop(), () => tokenRegistry.stop(), () => openRegistry.stop());

  [kettleLatest, kettleV1, curtain, redis] = await Promise.all([
    buildMultiPlatformImage({ seed: 'ops-kettle-latest' }),
    buildMultiPlatformImage({ seed: 'ops-kettle-v1' }),
    buildSinglePlatformImage({ seed: 'ops-curtain', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }),
    buildSinglePlatformImage({ seed: 'ops-redis' }),
  ]);
  cleanups.push(() => kettleLatest.remove(), () => kettleV1.remove(), () => curtain.remove(), () => redis.remove());

  const pushTo = (registry: RunningRegistry, auth: boolean): PushTarget => ({
    address: registry.address,
    caCertPem: registry.caCertPem,
    ...(auth ? { username: 'pusher', password: PASSWORDS.pusher } : {}),
  });
  const h = pushTo(htpasswdRegistry, true);
  const t = pushTo(tokenRegistry, true);
  const o = pushTo(openRegistry, false);
  const tagNames = Array.from({ length: MANY_TAG_COUNT }, (_, i) => `t${String(i).padStart(3, '0')}`);
  await Promise.all([
    pushImage(kettleLatest, h, KETTLE, 'latest'),
    pushImage(kettleV1, h, KETTLE, 'v1.0'),
    pushImage(curtain, h, CURTAIN, 'latest'),
    pushImage(redis, h, REDIS, 'latest'),
    pushImage(redis, h, DAM, 'latest'),
    pushManyTags(h, MANY, tagNames).then((pushed) => {
      manyTags = pushed;
    }),
    pushImage(redis, t, REDIS, 'latest'),
    pushImage(kettleV1, t, KETTLE, 'v1.0'),
    pushImage(curtain, t, DAM, 'latest'),
    pushImage(curtain, o, CURTAIN, 'latest'),
  ]);

  vault = await vaultStarted;
  cleanups.push(() => vault.stop());
  const kv = nodeVault({ endpoint: vault.addr, token: VAULT_ROOT_TOKEN, noCustomHTTPVerbs: true });
  await kv.mount({ mount_point: 'myvault', type: 'kv', options: { version: '2' } });
  await Promise.all([
    kv.write('myvault/data/a', { data: { username: 'user-a', password: PASSWORDS['user-a'] } }),
    kv.write('myvault/data/b', { data: { username: 'user-b', password: PASSWORDS['user-b'] } }),
    kv.write('myvault/data/c', { data: { username: 'user-c', password: PASSWORDS['user-c'] } }),
    kv.write('myvault/data/wrong', { data: { username: 'user-a', password: WRONG_PASSWORD } }),
  ]);

  webServerAddress = await httpsServer('plain-web-server', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body>a web site, not a registry</body></html>');
  });
  // Like registries that switch the catalog off (GHCR, Docker Hub): /v2/ answers as a registry, /v2/_catalog is 404.
  catalogLessAddress = await httpsServer('catalog-less-registry', (req, res) => {
    const headers = { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' };
    if (req.url === '/v2/') {
      res.writeHead(200, headers);
      res.end('{}');
      return;
    }
    res.writeHead(404, headers);
    res.end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: 'not found' }] }));
  });
  closedPortAddress = `127.0.0.1:${await freePort()}`;

  berth = await startBerth({ env: { VAULT_ADDR: vault.addr, VAULT_TOKEN: VAULT_ROOT_TOKEN } });
  cleanups.push(async () => {
    await berth.stop();
  });
  api = new Api(berth.url, berth.adminToken, inspect);
  const tokenOf = async (name: string, role: string) => {
    const created = await api.post('/v1/config/system/tokens', { name, role });
    assert.equal(created.status, 201, created.text);
    return (created.body as { token: string }).token;
  };
  operatorApi = api.withToken(await tokenOf('ops-operator', 'operator'));
  readApi = api.withToken(await tokenOf('ops-reader', 'read'));

  const caCert = ca.certPem;
  await addRegistry({ address: htpasswdRegistry.address, 'ca-cert': caCert, credentials: SAMPLE_CREDENTIALS });
  await addRegistry({ address: tokenRegistry.address, 'ca-cert': caCert, credentials: SAMPLE_CREDENTIALS });
  await addRegistry({ address: 'registry.invalid:443', 'override-address': openRegistry.address, 'ca-cert': caCert });
  // The htpasswd registry again under other names: without its CA, with a wrong password, with a missing secret.
  await addRegistry({ address: `localhost:${htpasswdRegistry.port}`, credentials: [SAMPLE_CREDENTIALS[0]] });
  await addRegistry({
    address: 'wrong-password.invalid:443',
    'override-address': htpasswdRegistry.address,
    'ca-cert': caCert,
    credentials: [{ repository: '*', vault: 'myvault', secret: 'wrong' }],
  });
  await addRegistry({
    address: 'missing-secret.invalid:443',
    'override-address': htpasswdRegistry.address,
    'ca-cert': caCert,
    credentials: [{ repository: '*', vault: 'myvault', secret: 'no-such-secret' }],
  });
  // The token registry with only secret a: it may not read DAM, which shows the grants are enforced.
  await addRegistry({ address: 'only-a.invalid:443', 'override-address': tokenRegistry.address, 'ca-cert': caCert, credentials: [SAMPLE_CREDENTIALS[0]] });
  await addRegistry({ address: webServerAddress, 'ca-cert': caCert });
  await addRegistry({ address: catalogLessAddress, 'ca-cert': caCert });
  await addRegistry({ address: closedPortAddress, 'ca-cert': caCert });
  await addRegistry({ address: 'sealed.invalid:443', 'override-address': htpasswdRegistry.address, 'ca-cert': caCert, credentials: [SAMPLE_CREDENTIALS[1]] });
});

after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface VerifyAnswer {
  success: boolean;
  digest?: string;
  'error-message'?: string;
  'error-type'?: string;
}

async function verify(address: string, body?: unknown): Promise<VerifyAnswer> {
  const res = await api.post(operation(address, 'verify-credentials'), body);
  assert.equal(res.status, 200, res.text);
  return res.body as VerifyAnswer;
}

describe('verify-credentials', () => {
  it('succeeds without an image: the registry answers as one and accepts the * credentials (secret a)', async () => {
    assert.deepEqual(await verify(htpasswdRegistry.address), { success: true });
    assert.deepEqual(await verify(tokenRegistry.address, {}), { success: true });
  });

  it('with an image proves its manifest readable and returns its digest (tag latest by default), YAML in and out', async () => {
    const res = await api.post(operation(htpasswdRegistry.address, 'verify-credentials'), `image: ${KETTLE}\n`, { contentType: YAML, accept: YAML });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.deepEqual(res.body, { success: true, digest: kettleLatest.digest });
    assert.deepEqual(await verify(htpasswdRegistry.address, { image: `${KETTLE}:v1.0` }), { success: true, digest: kettleV1.digest });
    assert.deepEqual(await verify(htpasswdRegistry.address, { image: `${CURTAIN}@${curtain.digest}` }), { success: true, digest: curtain.digest });
  });

  it('reads each image of the token registry with its own repository secret', async () => {
    assert.deepEqual(await verify(tokenRegistry.address, { image: `${DAM}:latest` }), { success: true, digest: curtain.digest });
    assert.deepEqual(await verify(tokenRegistry.address, { image: `${KETTLE}:v1.0` }), { success: true, digest: kettleV1.digest });
    assert.deepEqual(await verify(tokenRegistry.address, { image: REDIS }), { success: true, digest: redis.digest });
  });

  it('reaches a registry only through its override-address', async () => {
    assert.deepEqual(await verify('registry.invalid:443', { image: CURTAIN }), { success: true, digest: curtain.digest });
  });

  it('fails with unauthorized for a wrong password', async () => {
    const answer = await verify('wrong-password.invalid:443');
    assert.equal(answer.success, false);
    assert.equal(answer['error-type'], 'unauthorized');
    assert.match(answer['error-message']!, /wrong-password\.invalid:443.*rejected the credentials/);
  });

  it('fails with tls for a certificate signed by a CA it was not given', async () => {
    const answer = await verify(`localhost:${htpasswdRegistry.port}`);
    assert.equal(answer.success, false);
    assert.equal(answer['error-type'], 'tls');
    assert.match(answer['error-message']!, /certificate.*not accepted.*ca-cert/);
  });

  it('fails with not-a-registry for an HTTPS server that is not a registry', async () => {
    const answer = await verify(webServerAddress);
    assert.equal(answer.success, false);
    assert.equal(answer['error-type'], 'not-a-registry');
    assert.match(answer['error-message']!, /is not an OCI\/Docker registry/);
  });

  it('fails with connect for a closed port', async () => {
    const answer = await verify(closedPortAddress);
    assert.equal(answer.success, false);
    assert.equal(answer['error-type'], 'connect');
    assert.match(answer['error-message']!, /cannot connect to .*ECONNREFUSED/);
  });

  it('fails naming the vault and the secret when the secret does not exist', async () => {
    const answer = await verify('missing-secret.invalid:443');
    assert.equal(answer.success, false);
    assert.equal(answer['error-type'], 'secret-missing');
    assert.match(answer['error-message']!, /missing-secret\.invalid:443.*secret 'no-such-secret' in vault 'myvault' does not exist/);
  });

  it('fails with not-found for an image the registry does not have, and forbidden for one the secret may not read', async () => {
    const missing = await verify(htpasswdRegistry.address, { image: `${KETTLE}:no-such-tag` });
    assert.equal(missing.success, false);
    assert.equal(missing['error-type'], 'not-found');
    const denied = await verify('only-a.invalid:443', { image: DAM });
    assert.equal(denied.success, false);
    assert.equal(denied['error-type'], 'forbidden');
  });

  it('shows the last verification as non-config state, respecting content=config|nonconfig and fields', async () => {
    const before = Date.now();
    await verify(htpasswdRegistry.address, { image: `${KETTLE}:v1.0` });
    const state = (await api.get(`${STATE}/${htpasswdRegistry.address}`)).body as Record<string, unknown>;
    const last = state['last-verification'] as Record<string, unknown>;
    assert.deepEqual({ ...last, time: undefined }, { time: undefined, success: true, image: `${KETTLE}:v1.0`, digest: kettleV1.digest });
    assert.ok(Date.parse(String(last.time)) >= before - 1000);

    const config = (await api.get(`${STATE}/${htpasswdRegistry.address}?content=config`)).body as Record<string, unknown>;
    assert.equal(config['last-verification'], undefined);
    assert.ok(config.credentials);
    const nonconfig = (await api.get(`${STATE}/${htpasswdRegistry.address}?content=nonconfig`)).body as Record<string, unknown>;
    assert.deepEqual(nonconfig['last-verification'], last);
    assert.equal(nonconfig.credentials, undefined);
    const selected = await api.get(`${STATE}/${htpasswdRegistry.address}?fields=last-verification(success;digest)`);
    assert.deepEqual(selected.body, { 'last-verification': { success: true, digest: kettleV1.digest } });

    await verify(webServerAddress);
    const failed = (await api.get(`${STATE}?content=nonconfig`)).body as Record<string, unknown>[];
    const web = failed.find((s) => s.address === webServerAddress)!;
    assert.equal((web['last-verification'] as Record<string, unknown>).success, false);
    assert.equal((web['last-verification'] as Record<string, unknown>)['error-type'], 'not-a-registry');
    assert.match(String((web['last-verification'] as Record<string, unknown>)['error-message']), /not an OCI\/Docker registry/);
  });

  it('refuses a malformed image with 400 and calls nothing', async () => {
    for (const image of ['Upper/Case', 'repo:bad tag', 'repo@sha256:abc', '']) {
      const res = await api.post(operation(htpasswdRegistry.address, 'verify-credentials'), { image });
      assert.equal(res.status, 400, `${image}: ${res.text}`);
      assert.match(errorMessage(res), /^image: /);
    }
    const unknownField = await api.post(operation(htpasswdRegistry.address, 'verify-credentials'), { images: 'x' });
    assert.equal(unknownField.status, 400);
    const sha512Digest = await api.post(operation(htpasswdRegistry.address, 'verify-credentials'), { image: `x@sha384:${'a'.repeat(96)}` });
    assert.equal(sha512Digest.status, 400);
    assert.match(errorMessage(sha512Digest), /only sha256 and sha512/);
  });
});

describe('list-repositories', () => {
  it('lists every repository of the catalog', async () => {
    const res = await api.post(operation(htpasswdRegistry.address, 'list-repositories'));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { repositories: [DAM, MANY, CURTAIN, KETTLE, REDIS] });
    const yamlAnswer = await api.post(operation(tokenRegistry.address, 'list-repositories'), '{}\n', { contentType: YAML, accept: YAML });
    assert.equal(yamlAnswer.status, 200, yamlAnswer.text);
    assert.deepEqual(yamlAnswer.body, { repositories: [DAM, KETTLE, REDIS] });
  });

  it('answers 502 naming the missing catalog for a registry without one', async () => {
    const res = await api.post(operation(catalogLessAddress, 'list-repositories'));
    assert.equal(res.status, 502, res.text);
    assert.match(errorMessage(res), /has no catalog/);
    const info = (res.body as { errors: { 'error-info': Record<string, unknown> }[] }).errors[0]!['error-info'];
    assert.equal(info.kind, 'no-catalog');
    assert.equal(info.registry, catalogLessAddress);
  });

  it('answers 502 with the kind of upstream failure: not-a-registry, unauthorized, tls, connect, secret-missing', async () => {
    const cases: [string, string][] = [
      [webServerAddress, 'not-a-registry'],
      ['wrong-password.invalid:443', 'unauthorized'],
      [`localhost:${htpasswdRegistry.port}`, 'tls'],
      [closedPortAddress, 'connect'],
      ['missing-secret.invalid:443', 'secret-missing'],
    ];
    for (const [address, kind] of cases) {
      const res = await api.post(operation(address, 'list-repositories'));
      assert.equal(res.status, 502, `${address}: ${res.text}`);
      const info = (res.body as { errors: { 'error-info': Record<string, unknown> }[] }).errors[0]!['error-info'];
      assert.equal(info.kind, kind, res.text);
      assert.equal(info.registry, address);
    }
  });
});

interface ListedImages {
  images: Record<string, unknown>[];
}

async function listImages(address: string, body: unknown): Promise<ListedImages> {
  const res = await api.post(operation(address, 'list-images'), body);
  assert.equal(res.status, 200, res.text);
  return res.body as ListedImages;
}

describe('list-images', () => {
  it('answers the source document sample request in the sample shape', async () => {
    const sample = `repository: ${KETTLE}\ntags:\n  - latest\n  - v1.0\ndigest-length: full\n`;
    const res = await api.post(operation(htpasswdRegistry.address, 'list-images'), sample, { contentType: YAML, accept: YAML });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {
      images: [
        indexEntry(htpasswdRegistry.address, KETTLE, 'latest', kettleLatest),
        indexEntry(htpasswdRegistry.address, KETTLE, 'v1.0', kettleV1),
      ],
    });
    const manifests = (res.body as { images: { 'image-index': { manifests: { platform: string; annotations: Record<string, string> }[] } }[] })
      .images[0]!['image-index'].manifests;
    assert.deepEqual(manifests.map((m) => m.platform), ['linux/amd64', 'linux/arm64/v8', 'unknown/unknown']);
    assert.deepEqual(manifests[2]!.annotations, {
      'vnd.docker.reference.type': 'attestation-manifest',
      'vnd.docker.reference.digest': kettleLatest.manifests[0]!.digest,
    });
  });

  it('describes a single-platform image by its manifest, with the platform from its config', async () => {
    assert.deepEqual(await listImages(htpasswdRegistry.address, { repository: CURTAIN }), {
      images: [manifestEntry(htpasswdRegistry.address, CURTAIN, 'latest', curtain)],
    });
    assert.equal(manifestEntry(htpasswdRegistry.address, CURTAIN, 'latest', curtain).manifest.platform, 'linux/arm64/v8');
  });

  it('filters by tag and tags; a tag the repository does not have is absent', async () => {
    assert.deepEqual(await listImages(htpasswdRegistry.address, { repository: KETTLE, tag: 'v1.0' }), {
      images: [indexEntry(htpasswdRegistry.address, KETTLE, 'v1.0', kettleV1)],
    });
    assert.deepEqual(await listImages(htpasswdRegistry.address, { repository: KETTLE, tag: 'v9' }), { images: [] });
    const some = await listImages(htpasswdRegistry.address, { repository: KETTLE, tags: ['v1.0', 'nope', 'latest', 'v1.0'] });
    assert.deepEqual(some.images.map((i) => i.name), [`${htpasswdRegistry.address}/${KETTLE}:v1.0`, `${htpasswdRegistry.address}/${KETTLE}:latest`]);
  });

  it('brief gives the names only', async () => {
    assert.deepEqual(await listImages(htpasswdRegistry.address, { repository: KETTLE, brief: true }), {
      images: [{ name: `${htpasswdRegistry.address}/${KETTLE}:latest` }, { name: `${htpasswdRegistry.address}/${KETTLE}:v1.0` }],
    });
  });

  it('cuts every digest to digest-length: short is 12 hex digits, a number is that many', async () => {
    for (const [length, digits] of [['short', 12], [20, 20], [1, 1]] as const) {
      const listed = await listImages(htpasswdRegistry.address, { repository: KETTLE, tag: 'latest', 'digest-length': length });
      const image = listed.images[0] as { digest: string; 'image-index': { manifests: { digest: string }[] } };
      assert.equal(image.digest, kettleLatest.digest.slice(0, 'sha256:'.length + digits));
      assert.deepEqual(
        image['image-index'].manifests.map((m) => m.digest),
        kettleLatest.manifests.map((m) => m.digest.slice(0, 'sha256:'.length + digits)),
      );
    }
  });

  it(`lists all ${MANY_TAG_COUNT} tags of a repository with their digests`, async () => {
    const listed = await listImages(htpasswdRegistry.address, { repository: MANY });
    assert.equal(listed.images.length, MANY_TAG_COUNT);
    assert.deepEqual(
      listed.images,
      manyTags.map(({ tag, digest }) => ({
        name: `${htpasswdRegistry.address}/${MANY}:${tag}`,
        digest,
        manifest: { 'media-type': OCI_MANIFEST, platform: 'linux/amd64', annotations: { 'org.example.tag': tag } },
      })),
    );
  });

  it('reaches each repository of the token registry with its own secret, as the token issuer saw', async () => {
    const address = tokenRegistry.address;
    assert.deepEqual(await listImages(address, { repository: REDIS }), { images: [manifestEntry(address, REDIS, 'latest', redis)] });
    assert.deepEqual(await listImages(address, { repository: KETTLE }), { images: [indexEntry(address, KETTLE, 'v1.0', kettleV1)] });
    assert.deepEqual(await listImages(address, { repository: DAM }), { images: [manifestEntry(address, DAM, 'latest', curtain)] });

    const accounts = (repository: string) =>
      new Set(issuer.requests.filter((r) => r.account !== 'pusher' && r.scopes.includes(`repository:${repository}:pull`)).map((r) => r.account));
    assert.deepEqual(accounts(REDIS), new Set(['user-a']));
    assert.deepEqual(accounts(KETTLE), new Set(['user-b']));
    // only-a.invalid asked for DAM with secret a too (and was refused): the token registry asked with c only.
    const damRequests = issuer.requests.filter((r) => r.account !== 'pusher' && r.scopes.includes(`repository:${DAM}:pull`));
    assert.ok(damRequests.some((r) => r.account === 'user-c' && r.granted.length === 1));
    assert.ok(damRequests.filter((r) => r.account !== 'user-c').every((r) => r.granted.length === 0));

    // With secret a alone the grants refuse DAM: the successes above needed secret c.
    const refused = await api.post(operation('only-a.invalid:443', 'list-images'), { repository: DAM });
    assert.equal(refused.status, 502, refused.text);
    assert.equal((refused.body as { errors: { 'error-info': { kind: string } }[] }).errors[0]!['error-info'].kind, 'forbidden');
  });

  it('names images by the configured address when reached through override-address', async () => {
    assert.deepEqual(await listImages('registry.invalid:443', { repository: CURTAIN }), {
      images: [manifestEntry('registry.invalid:443', CURTAIN, 'latest', curtain)],
    });
  });

  it('answers 502 for upstream failures, with error-info kind and registry', async () => {
    const cases: [string, string, string][] = [
      [webServerAddress, KETTLE, 'not-a-registry'],
      ['wrong-password.invalid:443', KETTLE, 'unauthorized'],
      [`localhost:${htpasswdRegistry.port}`, KETTLE, 'tls'],
      [htpasswdRegistry.address, 'no/such/repository', 'not-found'],
    ];
    for (const [address, repository, kind] of cases) {
      const res = await api.post(operation(address, 'list-images'), { repository });
      assert.equal(res.status, 502, `${address}: ${res.text}`);
      const info = (res.body as { errors: { 'error-info': Record<string, unknown> }[] }).errors[0]!['error-info'];
      assert.equal(info.kind, kind, res.text);
      assert.equal(info.registry, address);
    }
  });

  it('refuses bodies the contract does not allow with 400', async () => {
    const bodies: [unknown, RegExp][] = [
      [{}, /repository: is required/],
      [{ repository: KETTLE, tag: 'latest', tags: ['v1.0'] }, /either 'tag' or 'tags'/],
      [{ repository: KETTLE, brief: false }, /brief/],
      [{ repository: KETTLE, 'digest-length': 'long' }, /digest-length/],
      [{ repository: KETTLE, 'digest-length': 0 }, /digest-length/],
      [{ repository: 'Upper/Case' }, /repository: must be/],
      [{ repository: KETTLE, tag: '.hidden' }, /tag: must be/],
      [{ repository: KETTLE, color: 'blue' }, /color/],
    ];
    for (const [body, message] of bodies) {
      const res = await api.post(operation(htpasswdRegistry.address, 'list-images'), body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.match(errorMessage(res), message);
    }
    const emptyBody = await api.post(operation(htpasswdRegistry.address, 'list-images'), '', { contentType: 'application/json' });
    assert.equal(emptyBody.status, 400, emptyBody.text);
    assert.equal(errorMessage(emptyBody), 'body: is required');
    const badYaml = await api.post(operation(htpasswdRegistry.address, 'list-images'), 'repository: [unclosed\n', { contentType: YAML });
    assert.equal(badYaml.status, 400);
    const textPlain = await api.post(operation(htpasswdRegistry.address, 'list-images'), 'repository=x', { contentType: 'text/plain' });
    assert.equal(textPlain.status, 415, textPlain.text);
  });
});

describe('every operation', () => {
  const calls = [
    ['verify-credentials', undefined],
    ['list-repositories', undefined],
    ['list-images', { repository: KETTLE, brief: true }],
  ] as const;

  it('answers 404 for an unknown registry and for any site', async () => {
    for (const [name, body] of calls) {
      const unknown = await api.post(operation('unknown.example.com', name), body);
      assert.equal(unknown.status, 404, unknown.text);
      assert.match(errorMessage(unknown), /remote registry 'unknown\.example\.com' does not exist/);
      const site = await api.post(`${operation(htpasswdRegistry.address, name)}?site=edge-1`, body);
      assert.equal(site.status, 404, site.text);
      assert.match(errorMessage(site), /unknown site 'edge-1'/);
      const badSite = await api.post(`${operation(htpasswdRegistry.address, name)}?site=Not_A_Site`, body);
      assert.equal(badSite.status, 400, badSite.text);
    }
  });

  it('may be invoked by operator and admin, not by read', async () => {
    for (const [name, body] of calls) {
      assert.equal((await operatorApi.post(operation(htpasswdRegistry.address, name), body)).status, 200, name);
      const denied = await readApi.post(operation(htpasswdRegistry.address, name), body);
      assert.equal(denied.status, 403, name);
      const anonymous = await api.post(operation(htpasswdRegistry.address, name), body, { token: null });
      assert.equal(anonymous.status, 401, name);
    }
  });

  it('answers 406 for an Accept it cannot meet, before calling the registry', async () => {
    const res = await api.post(operation(htpasswdRegistry.address, 'list-repositories'), undefined, { accept: 'text/html' });
    assert.equal(res.status, 406, res.text);
  });
});

describe('a Berth without a secret store', () => {
  it('fails verification of a registry whose credentials need one, naming the vault and secret', async () => {
    const bare = await startBerth();
    try {
      const bareApi = new Api(bare.url, bare.adminToken, inspect);
      const created = await bareApi.post(LIST, { address: htpasswdRegistry.address, 'ca-cert': ca.certPem, credentials: SAMPLE_CREDENTIALS });
      assert.equal(created.status, 201, created.text);
      const res = await bareApi.post(operation(htpasswdRegistry.address, 'verify-credentials'));
      assert.equal(res.status, 200, res.text);
      const answer = res.body as VerifyAnswer;
      assert.equal(answer.success, false);
      assert.equal(answer['error-type'], 'no-secret-store');
      assert.match(answer['error-message']!, /needs secret 'a' in vault 'myvault', but no secret store is configured/);
    } finally {
      assert.equal(await bare.stop(), 0);
    }
  });
});

// Last: it seals the secret store.
describe('a sealed secret store', () => {
  it('makes every operation answer 503 with Retry-After, also when met during the call', async () => {
    const kv = nodeVault({ endpoint: vault.addr, token: VAULT_ROOT_TOKEN, noCustomHTTPVerbs: true });
    await kv.seal();
    // 'sealed.invalid' was never used: its secret is in no cache, so the call meets the store whether or not
    // Berth's seal monitor has noticed yet; either way the answer is 503.
    for (const [name, body] of [
      ['verify-credentials', { image: KETTLE }],
      ['list-images', { repository: KETTLE }],
    ] as const) {
      const res = await api.post(operation('sealed.invalid:443', name), body);
      assert.equal(res.status, 503, `${name}: ${res.text}`);
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
      assert.match(errorMessage(res), /sealed/);
    }
  });

  it('never wrote a secret value to Berth\'s log', () => {
    for (const secret of ALL_SECRET_VALUES) assert.ok(!berth.output().includes(secret), 'a password is in the log');
  });
});
