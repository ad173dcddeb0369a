// The site registry as containerd's mirror, end to end with a real container runtime: Debian's containerd started
// with dirs of its own pulls `registry.example.com/...` with the hosts.toml Berth generated (written by the berth CLI),
// through an https front that serves Berth under a path prefix (so `ca` and `override_path` are used for real), from a
// real docker-registry with TLS and htpasswd behind a counting proxy (Berth's `override-address`), credentials per
// repository in vault-dev. Checks the issue's list: digests, one upstream transfer for four concurrent pulls, stale
// tags with a Warning while the upstream is down and 503 on a miss, a moved tag seen after the re-check interval,
// exclusions, credentials per repository, retention under a budget, SIGKILL mid-stream, and no open proxy.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from '../helpers/tls.js';
import { buildMultiPlatformImage, buildSinglePlatformImage, pushImage, type BuiltImage, type BuiltManifest } from '../helpers/oci-images.js';
import { startRegistryProxy, type RegistryProxy } from '../helpers/registry-proxy.js';
import { startVaultDev, type VaultDevInstance } from '../helpers/vault-dev.js';
import { randomSecret, registerSecretValue, vaultClient, writeRegistrySecret } from '../helpers/secret-values.js';
import { startContainerd, type RunningContainerd } from '../helpers/containerd.js';
import { runBerthCli } from '../helpers/berth-cli.js';
import { freePort } from '../helpers/free-port.js';
import { eventually } from '../helpers/eventually.js';

const UPSTREAM = 'registry.example.com';
const REMOTE = `/v1/config/image-registry/remote-registries/${UPSTREAM}`;
const REMOTE_STATE = `/v1/state/image-registry/remote-registries/${UPSTREAM}`;
const RETENTION = '/v1/config/image-registry/site-retention';
const RETENTION_STATE = '/v1/state/image-registry/site-retention';
/** Where the https front serves Berth: containerd gets `override_path` for it. */
const PREFIX = '/edge';
const VAULT_ROOT_TOKEN = 'pull-through-test-root-token';
const ALICE_PASSWORD = randomSecret('alice');
const BOB_PASSWORD = randomSecret('bob');

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const blobsOf = (manifest: BuiltManifest) => [manifest.config, ...manifest.layers];
const amd64Of = (image: BuiltImage) => image.manifests.find((m) => m.platform.architecture === 'amd64')!;

let ca: CertificateAuthority;
let registry: RunningRegistry;
let proxy: RegistryProxy;
let vault: VaultDevInstance;
let berth: BerthProcess;
let berthEnv: Record<string, string>;
let api: Api;
let containerd: RunningContainerd;
let front: HttpsServer;
let frontTarget: string;
let workDir: string;
let hostsDir: string;
let runtimeToken: string;
const images: Record<string, BuiltImage> = {};

// ---- helpers ----

/** A GET or HEAD of Berth's /v2 as a runtime sends it: the runtime token, containerd's `ns`. */
async function v2(path: string, options: { method?: string; ns?: string | null; headers?: Record<string, string> } = {}) {
  const ns = options.ns === undefined ? UPSTREAM : options.ns;
  const url = `${berth.url}/v2/${path}${ns === null ? '' : `${path.includes('?') ? '&' : '?'}ns=${encodeURIComponent(ns)}`}`;
  const res = await fetch(url, {
    method: options.method ?? 'GET',
    headers: { authorization: `Bearer ${runtimeToken}`, accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json', ...options.headers },
  });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: body.toString('utf8') };
}

const ociError = (res: { text: string }) => (JSON.parse(res.text) as { errors: Array<{ code: string; message: string }> }).errors[0]!;

/** What a runtime fetches for one platform of an image: the tag, the platform manifest, its config and layers. */
async function pullRaw(repository: string, tag: string, image: BuiltImage): Promise<void> {
  const top = await v2(`${repository}/manifests/${tag}`);
  assert.equal(top.status, 200, `${repository}:${tag}: ${top.text}`);
  assert.equal(top.headers.get('docker-content-digest'), image.digest);
  const manifest = image.mediaType.includes('index') ? amd64Of(image) : image.manifests[0]!;
  if (manifest.digest !== image.digest) assert.equal((await v2(`${repository}/manifests/${manifest.digest}`)).status, 200);
  for (const blob of blobsOf(manifest)) {
    const res = await v2(`${repository}/blobs/${blob.digest}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(sha256(res.body), blob.digest);
  }
}

async function ctrPull(namespace: string, reference: string) {
  return containerd.ctr(namespace, ['images', 'pull', '--hosts-dir', hostsDir, '--snapshotter', 'native', reference]);
}

/** The digest `ctr images ls` shows for `reference`. */
async function ctrImageDigest(namespace: string, reference: string): Promise<string | undefined> {
  const listed = await containerd.ctr(namespace, ['images', 'ls']);
  const line = listed.stdout.split('\n').find((l) => l.startsWith(`${reference} `));
  return line?.split(/\s+/).find((field) => field.startsWith('sha256:'));
}

async function ctrContent(namespace: string): Promise<string[]> {
  return (await containerd.ctr(namespace, ['content', 'ls', '-q'])).stdout.split('\n').filter((l) => l.startsWith('sha256:'));
}

async function remoteState(): Promise<Record<string, unknown>> {
  const res = await api.get(REMOTE_STATE);
  assert.equal(res.status, 200, res.text);
  return res.body as Record<string, unknown>;
}

async function retentionState() {
  const res = await api.get(RETENTION_STATE);
  assert.equal(res.status, 200, res.text);
  return res.body as { 'used-bytes': number; 'last-run'?: { trigger: string; 'evicted-images': number }; evicted: Array<{ repository: string; tags: string[]; digest: string }> };
}

/** The value of a Prometheus counter with exactly these labels (0 when absent). */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const res = await fetch(`${berth.url}/metrics`, { headers: { authorization: `Bearer ${berth.adminToken}` } });
  const text = await res.text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const storedBlob = (digest: string) => join(berth.dataDir, 'registry', 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7));

async function build(name: string, kind: 'multi' | 'single', layerSizes: number[]): Promise<BuiltImage> {
  const image = kind === 'multi' ? await buildMultiPlatformImage({ seed: `pull-through-${name}`, layerSizes }) : await buildSinglePlatformImage({ seed: `pull-through-${name}`, layerSizes });
  images[name] = image;
  return image;
}

const push = (image: BuiltImage, repository: string, tag: string) =>
  pushImage(image, { address: registry.address, caCertPem: ca.certPem, username: 'alice', password: ALICE_PASSWORD }, repository, tag);

/** An https front serving Berth under PREFIX, as a site's reverse proxy would. */
async function startFront(port: number): Promise<HttpsServer> {
  const certificate = issueServerCertificate(ca, `front-${port}`);
  const server = createHttpsServer({ key: certificate.keyPem, cert: certificate.certPem }, (req, res) => {
    const path = req.url ?? '/';
    if (!path.startsWith(`${PREFIX}/`)) {
      res.writeHead(404).end();
      return;
    }
    const target = new URL(frontTarget);
    const outgoing = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: path.slice(PREFIX.length), headers: { ...req.headers, host: target.host } },
      (answer: IncomingMessage) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    outgoing.on('error', () => res.destroy());
    req.pipe(outgoing);
  });
  server.listen(port, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server;
}

async function startOurBerth(dataDir?: string): Promise<void> {
  berth = await startBerth({ env: berthEnv, adminToken: berthEnv.BERTH_ADMIN_TOKEN!, ...(dataDir ? { dataDir } : {}) });
  frontTarget = berth.url;
  api = new Api(berth.url, berth.adminToken, assertMatchesContract);
}

before(async () => {
  ca = createCertificateAuthority('Pull-through Test CA');
  workDir = mkdtempSync(join(tmpdir(), 'berth-pull-through-'));
  hostsDir = join(workDir, 'certs.d');
  const frontPort = await freePort();
  [registry, vault, containerd] = await Promise.all([
    startDockerRegistry({ auth: { kind: 'htpasswd', users: { alice: ALICE_PASSWORD, bob: BOB_PASSWORD } }, ca }),
    startVaultDev({ rootToken: VAULT_ROOT_TOKEN }),
    startContainerd(),
  ]);
  proxy = await startRegistryProxy({ port: registry.port, caCertPem: ca.certPem }, ca);
  front = await startFront(frontPort);
  const kv = vaultClient(vault.addr, VAULT_ROOT_TOKEN);
  await kv.mount({ mount_point: 'registries', type: 'kv', options: { version: '2' } });
  await writeRegistrySecret(kv, 'registries', 'alice', { username: 'alice', password: ALICE_PASSWORD });
  // bob's login with a password that is not his: the registry refuses it, which shows when Berth used it.
  await writeRegistrySecret(kv, 'registries', 'bob-stale', { username: 'bob', password: randomSecret('not-bobs') });
  await writeRegistrySecret(kv, 'registries', 'bob', { username: 'bob', password: BOB_PASSWORD });
  berthEnv = {
    VAULT_ADDR: vault.addr,
    VAULT_TOKEN: VAULT_ROOT_TOKEN,
    BERTH_ADMIN_TOKEN: `pull-through-admin-${Math.random().toString(36).slice(2)}-token`,
    BERTH_REGISTRY_MIRROR_URL: `https://127.0.0.1:${frontPort}${PREFIX}`,
    BERTH_REGISTRY_MIRROR_CA: ca.certPath,
  };
  registerSecretValue(berthEnv.BERTH_ADMIN_TOKEN!);
  await startOurBerth();

  await Promise.all([
    build('app', 'multi', [64 * 1024, 512 * 1024]),
    build('crowd', 'single', [1024 * 1024, 1536 * 1024]),
    build('moving-1', 'single', [32 * 1024]),
    build('moving-2', 'single', [48 * 1024]),
    build('locked', 'single', [16 * 1024]),
    build('other', 'single', [16 * 1024]),
    build('kept', 'single', [200 * 1024]),
    build('one', 'single', [200 * 1024]),
    build('two', 'single', [200 * 1024]),
    build('three', 'single', [200 * 1024]),
    build('killed', 'single', [4 * 1024 * 1024]),
  ]);
  await Promise.all([
    push(images.app!, 'team/app', 'v1'),
    push(images.crowd!, 'team/crowd', 'v1'),
    push(images['moving-1']!, 'team/moving', 'v1'),
    push(images.locked!, 'team/locked/app', 'v1'),
    push(images.other!, 'other/app', 'v1'),
    push(images.kept!, 'base/kept', 'v1'),
    push(images.one!, 'base/one', 'v1'),
    push(images.two!, 'base/two', 'v1'),
    push(images.three!, 'base/three', 'v1'),
    push(images.killed!, 'base/killed', 'v1'),
  ]);

  const created = await api.post('/v1/config/image-registry/remote-registries', {
    address: UPSTREAM,
    'override-address': proxy.address,
    'ca-cert': ca.certPem,
    credentials: [
      { repository: '*', vault: 'registries', secret: 'alice' },
      { repository: 'team/locked', vault: 'registries', secret: 'bob-stale' },
    ],
    mirror: { enabled: true, repositories: ['team', 'base'], 'tag-recheck-seconds': 3600 },
  });
  assert.equal(created.status, 201, created.text);
  const token = await api.post('/v1/config/system/tokens', { name: 'runtime', role: 'read' });
  assert.equal(token.status, 201, token.text);
  runtimeToken = (token.body as { token: string }).token;
  registerSecretValue(runtimeToken);
});

after(async () => {
  await berth?.stop();
  await Promise.all([containerd?.stop(), vault?.stop(), proxy?.stop(), registry?.stop()]);
  await new Promise((resolve) => front?.close(resolve));
  for (const image of Object.values(images)) image.remove();
  rmSync(workDir, { recursive: true, force: true });
  rmSync(ca.dir, { recursive: true, force: true });
});

describe('the hosts.toml Berth generates', () => {
  it('names the registry as server, the site registry as a pull/resolve host with its CA, override_path and the token header; the CLI writes it with the token filled in', async () => {
    const res = await api.get('/v1/state/image-registry/containerd-hosts');
    assert.equal(res.status, 200, res.text);
    const hosts = res.body as { 'site-registry': string; placeholders: Array<{ name: string }>; files: Array<{ path: string; content: string; registry: string }>; install: string };
    assert.equal(hosts['site-registry'], berthEnv.BERTH_REGISTRY_MIRROR_URL);
    assert.deepEqual(hosts.files.map((f) => f.path), [`${UPSTREAM}/hosts.toml`, `${UPSTREAM}/berth-site-registry-ca.crt`]);
    const toml = hosts.files[0]!.content;
    const host = `${berthEnv.BERTH_REGISTRY_MIRROR_URL}/v2`;
    for (const line of [`server = "https://${UPSTREAM}"`, `[host."${host}"]`, 'capabilities = ["pull", "resolve"]', 'ca = "berth-site-registry-ca.crt"', 'override_path = true', `[host."${host}".header]`, 'Authorization = "Bearer ${BERTH_RUNTIME_TOKEN}"']) {
      assert.ok(toml.includes(line), `hosts.toml has ${line}:\n${toml}`);
    }
    assert.equal(hosts.files[1]!.content, ca.certPem);
    assert.deepEqual(hosts.placeholders.map((p) => p.name), ['BERTH_RUNTIME_TOKEN']);
    assert.match(hosts.install, /\/etc\/containerd\/certs\.d/);

    const env = { PATH: process.env.PATH ?? '', HOME: workDir, BERTH_URL: berth.url, BERTH_TOKEN: berth.adminToken };
    const refused = await runBerthCli(['show', 'state', 'image-registry', 'containerd-hosts', '--write-dir', hostsDir], { env, cwd: workDir });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /BERTH_RUNTIME_TOKEN/);
    assert.equal(existsSync(hostsDir), false, 'nothing written without the token');
    const written = await runBerthCli(['show', 'state', 'image-registry', 'containerd-hosts', '--write-dir', hostsDir], { env: { ...env, BERTH_RUNTIME_TOKEN: runtimeToken }, cwd: workDir });
    assert.equal(written.code, 0, written.stderr);
    const file = readFileSync(join(hostsDir, UPSTREAM, 'hosts.toml'), 'utf8');
    assert.ok(file.includes(`Authorization = "Bearer ${runtimeToken}"`));
    assert.ok(!written.stdout.includes(runtimeToken) && !written.stderr.includes(runtimeToken));
    assert.equal(readFileSync(join(hostsDir, UPSTREAM, 'berth-site-registry-ca.crt'), 'utf8'), ca.certPem);
  });
});

describe('containerd pulling through Berth', () => {
  it('first pull: containerd gets the upstream digests; Berth stored the image under registry.example.com/team/app', async () => {
    const image = images.app!;
    const fetchedBefore = await metric('berth_pull_blob_bytes_total', { registry: UPSTREAM, source: 'fetched' });
    const pulled = await ctrPull('first', `${UPSTREAM}/team/app:v1`);
    assert.equal(pulled.code, 0, `${pulled.stdout}\n${pulled.stderr}`);
    assert.equal(await ctrImageDigest('first', `${UPSTREAM}/team/app:v1`), image.digest);
    const content = await ctrContent('first');
    for (const digest of [image.digest, amd64Of(image).digest, ...blobsOf(amd64Of(image)).map((b) => b.digest)]) assert.ok(content.includes(digest), `containerd has ${digest}`);
    for (const blob of blobsOf(amd64Of(image))) assert.equal(proxy.blobGets(blob.digest), 1, `${blob.digest} fetched once`);
    const stored = await api.get(`/v1/state/image-registry/repositories/${UPSTREAM}%2Fteam%2Fapp`);
    assert.equal(stored.status, 200, stored.text);
    assert.deepEqual((stored.body as { tags: Array<{ tag: string; digest: string }> }).tags.map((t) => [t.tag, t.digest]), [['v1', image.digest]]);
    const state = (await remoteState())['pull-through'] as { misses: number };
    assert.ok(state.misses >= 4, JSON.stringify(state));
    const fetched = (await metric('berth_pull_blob_bytes_total', { registry: UPSTREAM, source: 'fetched' })) - fetchedBefore;
    assert.equal(fetched, blobsOf(amd64Of(image)).reduce((n, b) => n + b.size, 0), 'pull bytes fetched count what pull-through fetched');
  });

  it('a second pull (another namespace) is served from the site registry: nothing asked upstream but a tag check, none within the interval', async () => {
    const before = { blobs: proxy.blobRequests.length, requests: proxy.requests.length };
    const fromStore = () => metric('berth_pull_blob_bytes_total', { registry: UPSTREAM, source: 'store' });
    const fromStoreBefore = await fromStore();
    const pulled = await ctrPull('second', `${UPSTREAM}/team/app:v1`);
    assert.equal(pulled.code, 0, pulled.stderr);
    // containerd shares content between its namespaces: it may ask Berth for no blob here. A client that does:
    const layer = amd64Of(images.app!).layers[0]!;
    const served = await v2(`team/app/blobs/${layer.digest}`);
    assert.equal(served.status, 200);
    assert.equal((await fromStore()) - fromStoreBefore, layer.size, 'pull bytes served from the store count pull-through hits');
    assert.equal(proxy.blobRequests.length, before.blobs);
    assert.equal(proxy.requests.length, before.requests, 'tag-recheck-seconds is 3600: no upstream request at all');
  });

  it('four concurrent pulls of an image share one upstream transfer per blob', async () => {
    const image = images.crowd!;
    const blobs = blobsOf(image.manifests[0]!);
    const joins = () => metric('berth_pull_single_flight_joins_total', { registry: UPSTREAM, level: 'blob' });
    const joinedBefore = await joins();
    proxy.behaviour = { kind: 'gate' };
    const pulls = ['c1', 'c2', 'c3', 'c4'].map((ns) => ctrPull(ns, `${UPSTREAM}/team/crowd:v1`));
    try {
      // Every pull waits on every blob (their responses are held upstream): each blob's transfer has 3 joiners.
      await eventually('all four pulls wait on every blob', async () => (await joins()) - joinedBefore >= 3 * blobs.length, 60_000);
    } finally {
      proxy.release();
      proxy.behaviour = { kind: 'pass' };
    }
    for (const pulled of await Promise.all(pulls)) assert.equal(pulled.code, 0, pulled.stderr);
    for (const ns of ['c1', 'c2', 'c3', 'c4']) assert.equal(await ctrImageDigest(ns, `${UPSTREAM}/team/crowd:v1`), image.digest);
    for (const blob of blobs) assert.equal(proxy.blobGets(blob.digest), 1, `${blob.mediaType} ${blob.digest} fetched once upstream`);
    assert.equal(proxy.manifestRequests.filter((p) => p.includes('/team/crowd/')).length, 1, 'the manifest fetched once upstream');
  });

  it('streams a blob to the client before it is whole on disk (a tee), and stores it once verified', async () => {
    const image = images.killed!;
    const layer = image.manifests[0]!.layers[0]!;
    assert.equal((await v2('base/killed/manifests/v1')).status, 200);
    proxy.behaviour = { kind: 'hold-tail', bytes: 1024 * 1024 };
    try {
      const res = await fetch(`${berth.url}/v2/base/killed/blobs/${layer.digest}?ns=${UPSTREAM}`, { headers: { authorization: `Bearer ${runtimeToken}` } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(layer.size));
      const reader = res.body!.getReader();
      let received = 0;
      while (received < layer.size - 1024 * 1024 - 64 * 1024) received += (await reader.read()).value!.length;
      assert.equal(existsSync(storedBlob(layer.digest)), false, 'the client has most of the blob; the store has none of it yet');
      proxy.release();
      const chunks: Uint8Array[] = [];
      for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
      received += chunks.reduce((n, c) => n + c.length, 0);
      assert.equal(received, layer.size);
      // The client's stream ends once what it got hashes to the digest; the store publishes after its own fsync.
      await eventually('the blob is stored, verified and whole', async () => existsSync(storedBlob(layer.digest)));
    } finally {
      proxy.release();
      proxy.behaviour = { kind: 'pass' };
    }
  });
});

describe('the upstream down', () => {
  it('a stored tag still pulls, with a Warning, and state tells; an unknown tag is a 503 naming the upstream', async () => {
    const patched = await api.patch(REMOTE, { mirror: { 'tag-recheck-seconds': 0 } });
    assert.equal(patched.status, 204, patched.text);
    await proxy.stopListening();
    try {
      const pulled = await ctrPull('stale', `${UPSTREAM}/team/app:v1`);
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.equal(await ctrImageDigest('stale', `${UPSTREAM}/team/app:v1`), images.app!.digest);
      const head = await v2('team/app/manifests/v1', { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.match(head.headers.get('warning') ?? '', /^110 berth "Response is Stale: registry\.example\.com could not be asked \(connect\)"$/);
      const state = (await remoteState())['pull-through'] as { 'served-stale': number; 'last-upstream-failure': { kind: string; repository: string } };
      assert.ok(state['served-stale'] >= 2, JSON.stringify(state));
      assert.equal(state['last-upstream-failure'].kind, 'connect');
      assert.equal(state['last-upstream-failure'].repository, 'team/app');

      const missing = await v2('team/app/manifests/never-pushed');
      assert.equal(missing.status, 503);
      assert.equal(ociError(missing).code, 'UNAVAILABLE');
      assert.match(ociError(missing).message, /remote registry registry\.example\.com cannot serve it/);
      const failed = await ctrPull('stale', `${UPSTREAM}/team/app:never-pushed`);
      assert.notEqual(failed.code, 0);
      // A blob the site registry does not have cannot be served either: 503, before any byte.
      const blob = await v2(`team/moving/blobs/${images['moving-2']!.manifests[0]!.layers[0]!.digest}`);
      assert.equal(blob.status, 503, blob.text);
    } finally {
      await proxy.listenAgain();
      await api.patch(REMOTE, { mirror: { 'tag-recheck-seconds': 3600 } });
    }
    assert.equal(await metric('berth_pull_through_requests_total', { registry: UPSTREAM, object: 'manifest', outcome: 'stale' }) >= 2, true);
  });
});

describe('tags and digests', () => {
  it('a tag moved upstream is seen once the re-check interval passed; a digest is never asked again', async () => {
    const [first, second] = [images['moving-1']!, images['moving-2']!];
    await pullRaw('team/moving', 'v1', first);
    await push(second, 'team/moving', 'v1');
    // Every request counts (a HEAD, a GET), and a 401 challenge too: a changed configuration gives the registry a new client.
    const asked = () => proxy.requests.filter((r) => r.includes('/team/moving/manifests/')).length;
    const fetched = () => proxy.manifestRequests.filter((r) => r.includes('/team/moving/manifests/')).length;
    const before = asked();
    assert.equal((await v2('team/moving/manifests/v1')).headers.get('docker-content-digest'), first.digest, 'within the interval: the stored tag');
    assert.equal(asked(), before);
    assert.equal((await api.patch(REMOTE, { mirror: { 'tag-recheck-seconds': 1 } })).status, 204);
    await sleep(1100);
    const fetchedBefore = fetched();
    const moved = await v2('team/moving/manifests/v1');
    assert.equal(moved.headers.get('docker-content-digest'), second.digest, 'after the interval: the tag as it is upstream');
    assert.ok(asked() > before, 'checked upstream');
    assert.equal(fetched(), fetchedBefore + 1, 'the moved tag fetched once');
    const byDigest = asked();
    await sleep(1100);
    assert.equal((await v2(`team/moving/manifests/${first.digest}`)).status, 200);
    assert.equal((await v2(`team/moving/manifests/${second.digest}`)).status, 200);
    assert.equal(asked(), byDigest, 'by digest: never asked upstream');
    assert.equal((await api.patch(REMOTE, { mirror: { 'tag-recheck-seconds': 3600 } })).status, 204);
  });
});

describe('access', () => {
  it('refuses a repository the mirror settings exclude, without asking upstream', async () => {
    const before = proxy.requests.length;
    const res = await v2('other/app/manifests/v1');
    assert.equal(res.status, 403);
    assert.equal(ociError(res).code, 'DENIED');
    const pulled = await ctrPull('excluded', `${UPSTREAM}/other/app:v1`);
    assert.notEqual(pulled.code, 0);
    assert.equal(proxy.requests.length, before);
  });

  it('uses the credential of the repository (longest prefix): the stale one for team/locked is refused, the right one pulls', async () => {
    const refused = await v2('team/locked/app/manifests/v1');
    assert.equal(refused.status, 503, refused.text);
    assert.match(ociError(refused).message, /registry\.example\.com/);
    const failure = ((await remoteState())['pull-through'] as { 'last-upstream-failure': { kind: string; repository: string } })['last-upstream-failure'];
    assert.deepEqual([failure.kind, failure.repository], ['unauthorized', 'team/locked/app']);
    // team/app, under '*' (alice), pulled all along. Now team/locked gets bob's real login.
    const fixed = await api.patch(REMOTE, { credentials: [{ repository: 'team/locked', vault: 'registries', secret: 'bob' }] });
    assert.equal(fixed.status, 204, fixed.text);
    const pulled = await ctrPull('locked', `${UPSTREAM}/team/locked/app:v1`);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(await ctrImageDigest('locked', `${UPSTREAM}/team/locked/app:v1`), images.locked!.digest);
  });

  it('serves runtimes with a read token only: no token, a wrong one and a push are refused', async () => {
    const anonymous = await fetch(`${berth.url}/v2/team/app/manifests/v1?ns=${UPSTREAM}`);
    assert.equal(anonymous.status, 401);
    const wrong = await fetch(`${berth.url}/v2/team/app/manifests/v1?ns=${UPSTREAM}`, { headers: { authorization: 'Bearer berth_wrong-token-0123456789' } });
    assert.equal(wrong.status, 401);
    const push = await fetch(`${berth.url}/v2/team/app/manifests/v9?ns=${UPSTREAM}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${berth.adminToken}`, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: images.app!.manifests[0]!.bytes,
    });
    assert.equal(push.status, 405);
    const plainPush = await fetch(`${berth.url}/v2/${UPSTREAM}/team/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${berth.adminToken}` } });
    assert.equal(plainPush.status, 404);
  });

  it('serves the plain path form /v2/<registry>/<repository>/... the same way', async () => {
    const res = await v2(`${UPSTREAM}/team/app/manifests/v1`, { ns: null });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('docker-content-digest'), images.app!.digest);
    const tags = await v2(`${UPSTREAM}/team/app/tags/list`, { ns: null });
    assert.deepEqual(JSON.parse(tags.text), { name: 'team/app', tags: ['v1'] });
  });
});

describe('bad input: no open proxy', () => {
  let listener: TcpServer;
  let connections = 0;
  before(async () => {
    listener = createTcpServer((socket) => {
      connections++;
      socket.destroy();
    });
    listener.listen(0, '127.0.0.1');
    await new Promise((resolve) => listener.once('listening', resolve));
  });
  after(() => new Promise<void>((resolve) => listener.close(() => resolve())));

  it('ns naming an unconfigured host is a 404, a malformed one a 400, with the OCI error body; nothing is ever fetched', async () => {
    const port = (listener.address() as AddressInfo).port;
    const before = proxy.requests.length;
    for (const ns of [`127.0.0.1:${port}`, `localhost:${port}`, 'unknown.example.com', 'REGISTRY.EXAMPLE.COM']) {
      const res = await v2('team/app/manifests/v1', { ns });
      assert.equal(res.status, 404, `${ns}: ${res.text}`);
      assert.equal(ociError(res).code, 'NAME_UNKNOWN');
      const blob = await v2(`team/app/blobs/${images.app!.manifests[0]!.config.digest}`, { ns });
      assert.equal(blob.status, 404);
    }
    for (const ns of ['', 'a/b', 'http://x.example.com', `127.0.0.1:${port}/v2`, 'x:99999', 'a b', 'user@host', '..']) {
      const res = await v2('team/app/manifests/v1', { ns });
      assert.equal(res.status, 400, `${JSON.stringify(ns)}: ${res.text}`);
      assert.equal(ociError(res).code, 'NAME_INVALID');
    }
    const twice = await v2(`team/app/manifests/v1?ns=${UPSTREAM}`);
    assert.equal(twice.status, 400);
    const badName = await v2('Team/App/manifests/v1');
    assert.equal(badName.status, 400);
    // A path that starts with a host that is not mirrored is the site registry's own repository: nothing upstream.
    assert.equal((await v2(`unknown.example.com/team/app/manifests/v1`, { ns: null })).status, 404);
    assert.equal(connections, 0, 'no connection to a host that is not configured');
    assert.equal(proxy.requests.length, before);
    assert.ok(!berth.output().includes('"level":50'), 'no error-level log line');
  });
});

describe('retention under a disk budget', () => {
  it('evicts pull-through content least recently pulled first, keeps explicitly pulled images, and says what it removed', async () => {
    const pulled = await api.post(`/v1/state/image-registry/remote-registries/${UPSTREAM}/pull`, { image: 'base/kept:v1' });
    assert.equal(pulled.status, 200, pulled.text);
    await pullRaw('base/one', 'v1', images.one!);
    await pullRaw('base/two', 'v1', images.two!);
    // one is pulled again: two is now the least recently pulled of base/.
    assert.equal((await v2('base/one/manifests/v1')).status, 200);
    const three = images.three!;
    const threeBytes = three.manifests[0]!.size + blobsOf(three.manifests[0]!).reduce((n, b) => n + b.size, 0);
    const used = (await retentionState())['used-bytes'];
    // Everything pulled through before this test is kept by name, so only base/one, two and three compete.
    const keep = [`${UPSTREAM}/team`, `${UPSTREAM}/base/killed`];
    const put = await api.put(RETENTION, { 'budget-bytes': used + threeBytes - 1, 'interval-seconds': 3600, 'keep-repositories': keep });
    assert.equal(put.status, 201, put.text);
    await eventually('the run the configuration change asked for', async () => (await retentionState())['last-run']?.trigger === 'configuration');
    assert.deepEqual((await retentionState()).evicted, [], 'within the budget: nothing evicted');

    await pullRaw('base/three', 'v1', three);
    const state = await eventually('eviction after the pull-through store', async () => {
      const s = await retentionState();
      return s.evicted.length > 0 && s;
    });
    assert.deepEqual(state.evicted.map((e) => [e.repository, e.tags]), [[`${UPSTREAM}/base/two`, ['v1']]]);
    assert.equal(state.evicted[0]!.digest, images.two!.digest);
    const repositories = ((await api.get('/v1/state/image-registry/repositories?keys=true')).body as string[]).sort();
    for (const name of [`${UPSTREAM}/base/one`, `${UPSTREAM}/base/three`, 'base/kept', `${UPSTREAM}/team/app`]) assert.ok(repositories.includes(name), `${name} kept`);
    assert.ok(!repositories.includes(`${UPSTREAM}/base/two`), 'base/two evicted');
    for (const blob of blobsOf(images.two!.manifests[0]!)) assert.equal(existsSync(storedBlob(blob.digest)), false);
    for (const blob of blobsOf(images.kept!.manifests[0]!)) assert.equal(existsSync(storedBlob(blob.digest)), true, 'the explicitly pulled image keeps its blobs');

    // The timer runs too: a budget of 0 leaves only what is kept.
    assert.equal((await api.patch(RETENTION, { 'budget-bytes': 0, 'interval-seconds': 1 })).status, 204);
    await eventually('a run on the timer', async () => (await retentionState())['last-run']?.trigger === 'timer');
    const after = ((await api.get('/v1/state/image-registry/repositories?keys=true')).body as string[]).filter((n) => n.startsWith(`${UPSTREAM}/base/`));
    assert.deepEqual(after, [`${UPSTREAM}/base/killed`]);
    assert.ok(((await api.get('/v1/state/image-registry/repositories?keys=true')).body as string[]).includes('base/kept'));
    // An evicted image is fetched again on demand.
    await pullRaw('base/two', 'v1', images.two!);
    assert.equal((await api.delete(RETENTION)).status, 204);
  });
});

describe('SIGKILL in the middle of a pull-through stream', () => {
  it('leaves no partial blob, and the next request completes', async () => {
    const layer = images.killed!.manifests[0]!.layers[0]!;
    // The layer was stored by the tee test: take it out so the next request is a miss again.
    assert.equal((await api.delete(`/v1/state/image-registry/repositories/${UPSTREAM}%2Fbase%2Fkilled/images/${images.killed!.digest}`)).status, 204);
    assert.equal((await api.post('/v1/state/image-registry/garbage-collect', { 'grace-period-seconds': 0 })).status, 200);
    assert.equal(existsSync(storedBlob(layer.digest)), false);
    assert.equal((await v2('base/killed/manifests/v1')).status, 200);
    proxy.behaviour = { kind: 'hold-tail', bytes: 1024 * 1024 };
    const res = await fetch(`${berth.url}/v2/base/killed/blobs/${layer.digest}?ns=${UPSTREAM}`, { headers: { authorization: `Bearer ${runtimeToken}` } });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let received = 0;
    while (received < 1024 * 1024) received += (await reader.read()).value!.length;
    const staging = join(berth.dataDir, 'registry', 'uploads');
    assert.ok(readdirSync(staging).length > 0, 'the blob is being staged');
    const dataDir = berth.dataDir;
    assert.deepEqual(berth.output().split('\n').filter((l) => l.includes('"level":50') || l.includes('"level":60')), [], 'no error-level log line');
    await berth.kill();
    await reader.cancel().catch(() => {});
    proxy.release();
    proxy.behaviour = { kind: 'pass' };
    assert.equal(existsSync(join(dataDir, 'registry', 'blobs', 'sha256', layer.digest.slice(7, 9), layer.digest.slice(7))), false, 'no blob from a cut stream');

    await startOurBerth(dataDir);
    assert.deepEqual(readdirSync(staging), [], 'the staging file is gone');
    const again = await v2(`base/killed/blobs/${layer.digest}`);
    assert.equal(again.status, 200, again.text);
    assert.equal(sha256(again.body), layer.digest);
    assert.equal(existsSync(storedBlob(layer.digest)), true);
    assert.deepEqual(berth.output().split('\n').filter((l) => l.includes('"level":50') || l.includes('"level":60')), [], 'no error-level log line');
  });
});

