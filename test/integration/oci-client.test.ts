// The registry client against real registries: docker-registry 2.8 with htpasswd and with token auth (our token
// issuer), images built as OCI layouts and pushed with skopeo, and small real servers for the failure cases.
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import {
  RegistryClient,
  isUpstreamError,
  type CredentialResolver,
  type RegistryCredential,
  type RegistryEndpoint,
  type UpstreamError,
  type UpstreamErrorKind,
  type RegistryClientOptions,
} from '../../src/oci/index.js';
import { formatPlatform, isAttestationManifest } from '../../src/image-spec/index.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { freePort } from '../helpers/free-port.js';
import {
  buildMultiPlatformImage,
  buildSinglePlatformImage,
  pushImage,
  pushManyTags,
  readBlob,
  type BuiltImage,
  type PushedTag,
} from '../helpers/oci-images.js';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from '../helpers/tls.js';
import { startTokenIssuer, type RunningTokenIssuer } from '../helpers/token-issuer.js';

const PASSWORDS = {
  pusher: 'pusher-secret-1',
  'u-star': 'star-secret-2',
  'u-public': 'public-secret-3',
  'u-dam': 'dam-secret-4',
} as const;
type User = keyof typeof PASSWORDS;
const login = (user: User): RegistryCredential => ({ username: user, password: PASSWORDS[user] });

const KETTLE = 'avassa-public/movie-theaters-demo/kettle-popper-manager';
const CURTAIN = 'avassa-public/curtain-controller';
const MANY_TAGS = 'avassa-public/many-tags';
const WEB = 'avassa-public/web';
const DAM = 'avassa-public/digital-assets-manager';

/** The secret-store rule in miniature: the longest matching repository prefix on a '/' boundary wins, `*` last. */
function credentialsByRepository(table: Record<string, User>): CredentialResolver & { asked: string[] } {
  const asked: string[] = [];
  const resolver = async (repository: string) => {
    asked.push(repository);
    const keys = Object.keys(table)
      .filter((key) => key === '*' || repository === key || repository.startsWith(`${key}/`))
      .sort((a, b) => (a === '*' ? 1 : b === '*' ? -1 : b.length - a.length));
    const user = keys[0] === undefined ? undefined : table[keys[0]];
    return user === undefined ? undefined : login(user);
  };
  return Object.assign(resolver, { asked });
}

const clients: RegistryClient[] = [];
function client(endpoint: RegistryEndpoint, options?: RegistryClientOptions): RegistryClient {
  const c = new RegistryClient(endpoint, options);
  clients.push(c);
  return c;
}

/** Awaits a rejection that must be a UpstreamError of `kind`, and returns it for further checks. */
async function failure(promise: Promise<unknown>, kind: UpstreamErrorKind): Promise<UpstreamError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(isUpstreamError(caught), `expected a UpstreamError of kind ${kind}, got ${String(caught)}`);
  assert.equal(caught.failure.kind, kind, caught.message);
  assert.equal(caught.kind, 'upstream-failure');
  for (const secret of Object.values(PASSWORDS)) assert.ok(!caught.message.includes(secret), 'a password leaked into a message');
  return caught;
}

async function streamBytes(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const servers: (HttpServer | HttpsServer)[] = [];
async function listen<T extends HttpServer | HttpsServer>(server: T): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

let ca: CertificateAuthority;
const cleanups: (() => Promise<void> | void)[] = [];

before(() => {
  ca = createCertificateAuthority('Berth OCI Client Test CA');
  cleanups.push(() => rmSync(ca.dir, { recursive: true, force: true }));
});

after(async () => {
  await Promise.all(clients.map((c) => c.destroy()));
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('a docker-registry with htpasswd auth', () => {
  let registry: RunningRegistry;
  let multi: BuiltImage;
  let single: BuiltImage;
  let tags: PushedTag[];
  let endpoint: RegistryEndpoint;
  const star = credentialsByRepository({ '*': 'u-star' });

  before(async () => {
    registry = await startDockerRegistry({
      ca,
      auth: { kind: 'htpasswd', users: { ...PASSWORDS } },
    });
    cleanups.push(() => registry.stop());
    endpoint = { address: registry.address, caCertPem: registry.caCertPem };
    const target = { address: registry.address, caCertPem: registry.caCertPem, username: 'pusher', password: PASSWORDS.pusher };
    [multi, single] = await Promise.all([
      buildMultiPlatformImage({ seed: 'kettle', layerSizes: [64 * 1024, 300 * 1024] }),
      buildSinglePlatformImage({ seed: 'curtain' }),
    ]);
    cleanups.push(() => multi.remove(), () => single.remove());
    await Promise.all([
      pushImage(multi, target, KETTLE, 'v1.0'),
      pushImage(single, target, CURTAIN, 'latest'),
      pushManyTags(target, MANY_TAGS, Array.from({ length: 105 }, (_, i) => `t${String(i).padStart(3, '0')}`)).then((t) => {
        tags = t;
      }),
    ]);
  });

  it('pings: a registry that asks for Basic auth', async () => {
    assert.deepEqual(await client(endpoint).ping(), { authenticationRequired: true, scheme: 'basic' });
  });

  it('authenticates with the * credential and rejects a wrong password as unauthorized', async () => {
    await client(endpoint, { credentialFor: star }).authenticate();
    const wrong = client(endpoint, { credentialFor: async () => ({ username: 'u-star', password: 'not-the-password' }) });
    const error = await failure(wrong.authenticate(), 'unauthorized');
    assert.equal(error.failure.status, 401);
    assert.match(error.message, new RegExp(registry.address.replace(/\./g, '\\.')));
  });

  it('lists the catalog two at a time, following the Link header to the end', async () => {
    const all = await client(endpoint, { credentialFor: star }).listRepositories({ pageSize: 2 });
    assert.deepEqual([...all].sort(), [CURTAIN, MANY_TAGS, KETTLE].sort());
    assert.deepEqual(star.asked.filter((r) => r === '*').length > 0, true);
  });

  it('lists every tag of a repository with more tags than a page', async () => {
    const listed = await client(endpoint, { credentialFor: star }).listTags(MANY_TAGS, { pageSize: 10 });
    assert.equal(listed.length, 105);
    assert.deepEqual([...listed].sort(), tags.map((t) => t.tag));
  });

  it('gets the index by tag and every platform manifest by digest, with the digests the builder computed', async () => {
    const c = client(endpoint, { credentialFor: star });
    const index = await c.getManifest(KETTLE, 'v1.0');
    assert.equal(index.document.kind, 'index');
    assert.equal(index.document.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(index.digest, multi.digest);
    assert.deepEqual(index.bytes, multi.bytes);
    assert.deepEqual(
      index.document.manifests.map((d) => formatPlatform(d.platform)),
      ['linux/amd64', 'linux/arm64/v8', 'unknown/unknown'],
    );
    const attestation = index.document.manifests[2];
    assert.ok(attestation && isAttestationManifest(attestation));
    assert.equal(attestation.annotations?.['vnd.docker.reference.digest'], multi.manifests[0]?.digest);

    for (const built of multi.manifests) {
      const fetched = await c.getManifest(KETTLE, built.digest);
      assert.equal(fetched.document.kind, 'image');
      assert.equal(fetched.digest, built.digest);
      assert.deepEqual(fetched.bytes, built.bytes);
      assert.deepEqual(fetched.document.layers.map((l) => l.digest), built.layers.map((l) => l.digest));
      assert.equal(fetched.document.config?.digest, built.config.digest);
    }

    const image = await c.getManifest(CURTAIN, 'latest');
    assert.equal(image.document.kind, 'image');
    assert.equal(image.digest, single.digest);
    assert.deepEqual(await c.headManifest(CURTAIN, 'latest'), {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: single.digest,
      size: single.bytes.length,
    });
  });

  it('streams a blob whole and from an offset, and tells whether blobs exist', async () => {
    const c = client(endpoint, { credentialFor: star });
    const layer = multi.manifests[1]?.layers[1];
    assert.ok(layer);
    const whole = await c.getBlob(KETTLE, layer.digest);
    assert.equal(whole.offset, 0);
    assert.equal(whole.totalSize, layer.size);
    assert.deepEqual(await streamBytes(whole.body), await readBlob(layer));

    const offset = Math.floor(layer.size / 3);
    const rest = await c.getBlob(KETTLE, layer.digest, { offset });
    assert.equal(rest.offset, offset);
    assert.equal(rest.totalSize, layer.size);
    assert.equal(rest.length, layer.size - offset);
    assert.deepEqual(await streamBytes(rest.body), await readBlob(layer, offset));

    assert.equal(await c.blobExists(KETTLE, layer.digest), true);
    assert.equal(await c.blobExists(KETTLE, `sha256:${'0'.repeat(64)}`), false);
  });

  it('answers not-found for an unknown manifest, tag list and blob', async () => {
    const c = client(endpoint, { credentialFor: star });
    const manifest = await failure(c.getManifest(KETTLE, 'no-such-tag'), 'not-found');
    assert.equal(manifest.failure.status, 404);
    assert.deepEqual(manifest.failure.registryErrorCodes, ['MANIFEST_UNKNOWN']);
    await failure(c.listTags('avassa-public/nothing-here'), 'not-found');
    await failure(c.getBlob(KETTLE, `sha256:${'1'.repeat(64)}`), 'not-found');
  });

  it('anonymous access to an htpasswd registry is unauthorized, naming the repository', async () => {
    const error = await failure(client(endpoint).getManifest(KETTLE, 'v1.0'), 'unauthorized');
    assert.match(error.message, /requires credentials/);
    assert.match(error.message, new RegExp(KETTLE));
  });

  it('connects to override-address when the address does not resolve', async () => {
    const port = registry.address.split(':')[1];
    const overridden = client(
      { address: `registry.invalid:${port}`, overrideAddress: registry.address, caCertPem: registry.caCertPem },
      { credentialFor: star },
    );
    assert.deepEqual(await overridden.ping(), { authenticationRequired: true, scheme: 'basic' });
    assert.equal((await overridden.getManifest(KETTLE, 'v1.0')).digest, multi.digest);

    const direct = client({ address: `registry.invalid:${port}`, caCertPem: registry.caCertPem }, { credentialFor: star });
    const error = await failure(direct.ping(), 'dns');
    assert.equal(error.failure.registry, `registry.invalid:${port}`);
  });

  it('does not trust the registry without its CA: tls, naming the certificate problem', async () => {
    const error = await failure(client({ address: registry.address }).ping(), 'tls');
    assert.equal(error.failure.certificateProblem, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  describe('behind a proxy that changes what the registry says', () => {
    let proxied: RegistryEndpoint;
    /** The Authorization headers (or their absence) on requests that reached the proxy and the blob store. */
    const proxySawAuthorization: (string | undefined)[] = [];
    const storeSawAuthorization: (string | undefined)[] = [];

    before(async () => {
      // A blob store on another host (`localhost` rather than 127.0.0.1), like the S3 bucket a registry redirects to.
      const storeCert = issueServerCertificate(ca, 'blob-store', ['localhost']);
      const blobs = new Map(multi.manifests.flatMap((m) => m.layers).map((layer) => [layer.digest, layer]));
      const store = createHttpsServer({ key: storeCert.keyPem, cert: storeCert.certPem }, async (req, res) => {
        storeSawAuthorization.push(req.headers.authorization);
        const blob = blobs.get((req.url ?? '').replace('/blobs/', ''));
        if (!blob) {
          res.writeHead(404).end();
          return;
        }
        const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
        const start = range ? Number(range[1]) : 0;
        const bytes = await readBlob(blob, start);
        res.writeHead(range ? 206 : 200, {
          'content-length': String(bytes.length),
          ...(range ? { 'content-range': `bytes ${start}-${blob.size - 1}/${blob.size}` } : {}),
        });
        res.end(bytes);
      });
      const storePort = await listen(store);

      // Forwards to the real registry; tampers with manifest bytes (keeping Docker-Content-Digest), switches the
      // catalog off, and pages tag lists (docker-registry 2.8 never pages tags) to exercise the client's Link handling.
      const upstream = new Agent({ connect: { ca: registry.caCertPem } });
      cleanups.push(() => upstream.close());
      const cert = issueServerCertificate(ca, 'distorting-proxy');
      const proxy = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, async (req, res) => {
        const url = new URL(req.url ?? '/', 'https://proxy.test');
        proxySawAuthorization.push(req.headers.authorization);
        const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
        if (blob && req.headers.authorization) {
          // Only after authenticating, like a registry: anonymous requests still get their 401 challenge below.
          const location = blob[1] === 'plain-redirect' ? `http://localhost:${storePort}/blobs/${blob[2]}` : `https://localhost:${storePort}/blobs/${blob[2]}`;
          res.writeHead(307, { location, 'docker-distribution-api-version': 'registry/2.0' });
          res.end();
          return;
        }
        if (url.pathname === '/v2/_catalog') {
          res.writeHead(404, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
          res.end(JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] }));
          return;
        }
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(([name]) => !['host', 'connection', 'keep-alive'].includes(name)),
        ) as Record<string, string>;
        const answer = await request(`https://${registry.address}${url.pathname}`, {
          method: req.method as 'GET',
          headers,
          dispatcher: upstream,
        });
        const body = Buffer.from(await answer.body.arrayBuffer());
        const out = { ...answer.headers } as Record<string, string>;
        let payload = body;
        if (answer.statusCode === 200 && url.pathname.includes('/manifests/') && req.method === 'GET') {
          payload = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2));
        }
        if (answer.statusCode === 200 && url.pathname.endsWith('/tags/list')) {
          const list = JSON.parse(body.toString()) as { name: string; tags: string[] };
          const sorted = [...list.tags].sort();
          const n = Number(url.searchParams.get('n') ?? 1000);
          const last = url.searchParams.get('last');
          const start = last === null ? 0 : sorted.indexOf(last) + 1;
          const page = sorted.slice(start, start + n);
          if (start + n < sorted.length) out.link = `</v2/${list.name}/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
          payload = Buffer.from(JSON.stringify({ name: list.name, tags: page }));
        }
        delete out['transfer-encoding'];
        delete out.connection;
        out['content-length'] = String(payload.length);
        res.writeHead(answer.statusCode, out);
        res.end(payload);
      });
      const port = await listen(proxy);
      proxied = { address: `127.0.0.1:${port}`, caCertPem: ca.certPem };
    });

    it('rejects manifest bytes that do not match the digest asked for or the announced digest: bad-response', async () => {
      const c = client(proxied, { credentialFor: star });
      const byTag = await failure(c.getManifest(KETTLE, 'v1.0'), 'bad-response');
      assert.match(byTag.message, /Docker-Content-Digest/);
      const byDigest = await failure(c.getManifest(KETTLE, multi.digest), 'bad-response');
      assert.match(byDigest.message, /digest asked for/);
    });

    it('reports a registry whose catalog is off as no-catalog', async () => {
      const error = await failure(client(proxied, { credentialFor: star }).listRepositories(), 'no-catalog');
      assert.match(error.message, /no catalog/);
    });

    it('follows a blob redirect to another host without the credentials, also from an offset', async () => {
      const c = client(proxied, { credentialFor: star });
      const layer = multi.manifests[0]?.layers[1];
      assert.ok(layer);
      proxySawAuthorization.length = 0;
      storeSawAuthorization.length = 0;
      assert.deepEqual(await streamBytes((await c.getBlob(KETTLE, layer.digest)).body), await readBlob(layer));
      const rest = await c.getBlob(KETTLE, layer.digest, { offset: 1000 });
      assert.equal(rest.offset, 1000);
      assert.deepEqual(await streamBytes(rest.body), await readBlob(layer, 1000));
      assert.ok(proxySawAuthorization.some((a) => a?.startsWith('Basic ')), 'the registry got the credentials');
      assert.deepEqual(storeSawAuthorization, [undefined, undefined], 'the blob store got no credentials');
    });

    it('refuses a redirect to plain HTTP: bad-response', async () => {
      const c = client(proxied, { credentialFor: star });
      const error = await failure(c.getBlob('plain-redirect', `sha256:${'2'.repeat(64)}`), 'bad-response');
      assert.match(error.message, /non-https/);
    });

    it('follows Link pages of a tag list', async () => {
      const listed = await client(proxied, { credentialFor: star }).listTags(MANY_TAGS, { pageSize: 10 });
      assert.deepEqual(listed, tags.map((t) => t.tag));
    });
  });
});

describe('a docker-registry with token auth', () => {
  let issuer: RunningTokenIssuer;
  let registry: RunningRegistry;
  let endpoint: RegistryEndpoint;
  let web: BuiltImage;
  let dam: BuiltImage;
  const table: Record<string, User> = { '*': 'u-star', 'avassa-public': 'u-public', [DAM]: 'u-dam' };

  before(async () => {
    issuer = await startTokenIssuer({
      ca,
      users: {
        pusher: { password: PASSWORDS.pusher, pull: ['*'], push: ['*'], catalog: true },
        'u-star': { password: PASSWORDS['u-star'], catalog: true },
        'u-public': { password: PASSWORDS['u-public'], pull: ['avassa-public', WEB] },
        'u-dam': { password: PASSWORDS['u-dam'], pull: [DAM] },
      },
    });
    cleanups.push(() => issuer.stop());
    registry = await startDockerRegistry({
      ca,
      auth: {
        kind: 'token',
        realm: issuer.realm,
        service: issuer.service,
        issuer: issuer.issuer,
        rootCertBundlePem: issuer.rootCertBundlePem,
      },
    });
    cleanups.push(() => registry.stop());
    endpoint = { address: registry.address, caCertPem: registry.caCertPem };
    [web, dam] = await Promise.all([buildSinglePlatformImage({ seed: 'web' }), buildSinglePlatformImage({ seed: 'dam' })]);
    cleanups.push(() => web.remove(), () => dam.remove());
    const target = { address: registry.address, caCertPem: registry.caCertPem, username: 'pusher', password: PASSWORDS.pusher };
    await Promise.all([pushImage(web, target, WEB, 'v1'), pushImage(dam, target, DAM, 'v1')]);
  });

  it('pings: a registry that asks for Bearer tokens', async () => {
    assert.deepEqual(await client(endpoint).ping(), { authenticationRequired: true, scheme: 'bearer' });
  });

  it('denies anonymous access after asking the token service anonymously', async () => {
    const before = issuer.requests.length;
    const error = await failure(client(endpoint).getManifest(WEB, 'v1'), 'unauthorized');
    assert.match(error.message, /requires credentials/);
    const asked = issuer.requests.slice(before);
    assert.deepEqual(asked.map((r) => [r.account, r.scopes]), [[undefined, [`repository:${WEB}:pull`]]]);
  });

  it('reaches each repository with its own credential: * for the catalog, the longest prefix for a repository', async () => {
    const resolver = credentialsByRepository(table);
    const c = client(endpoint, { credentialFor: resolver });
    const before = issuer.requests.length;
    assert.deepEqual([...(await c.listRepositories())].sort(), [DAM, WEB].sort());
    assert.equal((await c.getManifest(WEB, 'v1')).digest, web.digest);
    assert.equal((await c.getManifest(DAM, 'v1')).digest, dam.digest);
    const asked = issuer.requests.slice(before).map((r) => ({ account: r.account, scopes: r.scopes, status: r.status }));
    assert.deepEqual(asked, [
      { account: 'u-star', scopes: ['registry:catalog:*'], status: 200 },
      { account: 'u-public', scopes: [`repository:${WEB}:pull`], status: 200 },
      { account: 'u-dam', scopes: [`repository:${DAM}:pull`], status: 200 },
    ]);
    assert.deepEqual(resolver.asked, ['*', WEB, DAM]);
  });

  it('is forbidden when the credential is valid but not granted the repository', async () => {
    const c = client(endpoint, { credentialFor: async () => login('u-public') });
    const error = await failure(c.getManifest(DAM, 'v1'), 'forbidden');
    assert.match(error.message, /insufficient_scope/);
  });

  it('caches a token per scope and credential until it expires', async () => {
    const c = client(endpoint, { credentialFor: credentialsByRepository(table) });
    const count = () =>
      issuer.requests.filter((r) => r.account === 'u-dam' && r.scopes.includes(`repository:${DAM}:pull`)).length;
    const start = count();
    const manifest = await c.getManifest(DAM, 'v1');
    await c.getManifest(DAM, manifest.digest);
    await c.listTags(DAM);
    const config = manifest.document.config;
    assert.ok(config);
    assert.equal(await c.blobExists(DAM, config.digest), true);
    assert.equal(count() - start, 1);
  });

  it('rejects a wrong password at the token service as unauthorized', async () => {
    const c = client(endpoint, { credentialFor: async () => ({ username: 'u-dam', password: 'wrong-password' }) });
    const error = await failure(c.getManifest(DAM, 'v1'), 'unauthorized');
    assert.equal(error.failure.status, 401);
    assert.match(error.message, /token service/);
  });

  it('sends a token credential directly as Bearer, without asking the token service', async () => {
    const dispatcher = new Agent({ connect: { ca: ca.certPem } });
    cleanups.push(() => dispatcher.close());
    const tokenAnswer = await request(`${issuer.realm}?service=${issuer.service}&scope=repository:${WEB}:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`u-public:${PASSWORDS['u-public']}`).toString('base64')}` },
      dispatcher,
    });
    const { token } = (await tokenAnswer.body.json()) as { token: string };
    const before = issuer.requests.length;
    const c = client(endpoint, { credentialFor: async () => ({ token }) });
    assert.equal((await c.getManifest(WEB, 'v1')).digest, web.digest);
    assert.equal(issuer.requests.length, before);
  });
});

describe('a docker-registry without auth', () => {
  let registry: RunningRegistry;
  let image: BuiltImage;

  before(async () => {
    registry = await startDockerRegistry({ ca, auth: { kind: 'none' } });
    cleanups.push(() => registry.stop());
    image = await buildSinglePlatformImage({ seed: 'open', platform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
    cleanups.push(() => image.remove());
    await pushImage(image, { address: registry.address, caCertPem: registry.caCertPem }, 'open/app', '1.0');
  });

  it('serves anonymous calls and never asks for a credential', async () => {
    const asked: string[] = [];
    const c = client(
      { address: registry.address, caCertPem: registry.caCertPem },
      {
        credentialFor: async (repository) => {
          asked.push(repository);
          return undefined;
        },
      },
    );
    assert.deepEqual(await c.ping(), { authenticationRequired: false });
    assert.deepEqual(await c.listRepositories(), ['open/app']);
    assert.deepEqual(await c.listTags('open/app'), ['1.0']);
    const manifest = await c.getManifest('open/app', '1.0');
    assert.equal(manifest.digest, image.digest);
    assert.equal(manifest.document.kind, 'image');
    // Credentials live in the secret store: an open registry must not cost a look-up.
    assert.deepEqual(asked, []);
  });
});

describe('servers that are not (working) registries', () => {
  type Answer = { status: number; headers?: Record<string, string>; body?: string };
  let fakeEndpoint: (handler: (req: IncomingMessage, res: ServerResponse) => Answer | 'handled') => Promise<RegistryEndpoint>;
  const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' };

  before(() => {
    const cert = issueServerCertificate(ca, 'not-a-registry');
    fakeEndpoint = async (handler) => {
      const server = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
        const answer = handler(req, res);
        if (answer === 'handled') return;
        res.writeHead(answer.status, answer.headers ?? {});
        res.end(answer.body ?? '{}');
      });
      return { address: `127.0.0.1:${await listen(server)}`, caCertPem: ca.certPem };
    };
  });

  it('an HTTPS server answering 200 on /v2/ without the API version header is not-a-registry', async () => {
    const endpoint = await fakeEndpoint(() => ({ status: 200, headers: { 'content-type': 'application/json' } }));
    const error = await failure(client(endpoint).ping(), 'not-a-registry');
    assert.match(error.message, /Docker-Distribution-API-Version/);
  });

  it('a plain-HTTP server on the port is not-a-registry, saying it does not speak TLS', async () => {
    const plain = createHttpServer((_req, res) => {
      res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' });
      res.end('{}');
    });
    const port = await listen(plain);
    const error = await failure(client({ address: `127.0.0.1:${port}`, caCertPem: ca.certPem }).ping(), 'not-a-registry');
    assert.match(error.message, /does not speak TLS/);
  });

  it('a closed port is a connect failure', async () => {
    const port = await freePort();
    const error = await failure(client({ address: `127.0.0.1:${port}`, caCertPem: ca.certPem }).ping(), 'connect');
    assert.match(error.message, /ECONNREFUSED/);
  });

  it('a certificate for another name is a tls failure naming ERR_TLS_CERT_ALTNAME_INVALID', async () => {
    const other = issueServerCertificate(ca, 'wrong-name', ['wrong.example']);
    const server = createHttpsServer({ key: other.keyPem, cert: other.certPem }, (_req, res) => res.end());
    const port = await listen(server);
    const error = await failure(client({ address: `127.0.0.1:${port}`, caCertPem: ca.certPem }).ping(), 'tls');
    assert.equal(error.failure.certificateProblem, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('a server that never answers is a timeout', async () => {
    const endpoint = await fakeEndpoint(() => 'handled'); // never answers: the headers timeout must fire
    const c = client(endpoint, { timeouts: { headersMs: 300 } });
    const error = await failure(c.ping(), 'timeout');
    assert.match(error.message, /UND_ERR_HEADERS_TIMEOUT/);
  });

  it('never sends credentials to a plain-HTTP token realm', async () => {
    let realmRequests = 0;
    const realm = createHttpServer((_req, res) => {
      realmRequests++;
      res.end('{"token":"t"}');
    });
    const realmPort = await listen(realm);
    const endpoint = await fakeEndpoint(() => ({
      status: 401,
      headers: {
        'docker-distribution-api-version': 'registry/2.0',
        'www-authenticate': `Bearer realm="http://127.0.0.1:${realmPort}/token",service="fake"`,
      },
    }));
    const c = client(endpoint, { credentialFor: async () => login('u-star') });
    const error = await failure(c.getManifest('some/repo', 'latest'), 'bad-response');
    assert.match(error.message, /not https/);
    assert.equal(realmRequests, 0);
  });

  it('retries a dropped connection and a 503, then succeeds', async () => {
    let requests = 0;
    const endpoint = await fakeEndpoint((req) => {
      requests++;
      if (requests === 1) {
        req.socket.destroy(); // the connection goes away under the request
        return 'handled';
      }
      if (requests === 2) return { status: 503, headers: API_VERSION };
      return { status: 200, headers: API_VERSION };
    });
    const c = client(endpoint, { retry: { baseDelayMs: 10 } });
    assert.deepEqual(await c.ping(), { authenticationRequired: false });
    assert.equal(requests, 3);
  });

  it('a blob body that stops arriving fails the stream with a timeout UpstreamError', async () => {
    const endpoint = await fakeEndpoint((_req, res) => {
      res.writeHead(200, { ...API_VERSION, 'content-length': '1000' });
      res.write(Buffer.alloc(10)); // and then nothing more
      return 'handled';
    });
    const c = client(endpoint, { timeouts: { bodyMs: 300 } });
    const download = await c.getBlob('some/repo', `sha256:${'3'.repeat(64)}`);
    assert.equal(download.totalSize, 1000);
    await failure(streamBytes(download.body), 'timeout');
  });

  it('429 with Retry-After is rate-limited, carrying the seconds', async () => {
    const endpoint = await fakeEndpoint(() => ({
      status: 429,
      headers: { 'retry-after': '7', 'docker-distribution-api-version': 'registry/2.0' },
    }));
    const error = await failure(client(endpoint).ping(), 'rate-limited');
    assert.equal(error.failure.retryAfterSeconds, 7);
    assert.equal(error.retryAfterSeconds, 7);
  });
});
