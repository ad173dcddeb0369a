// The /v2 API of the site registry spoken byte by byte with fetch over loopback: manifests by tag and digest,
// blob ranges, monolithic and chunked uploads, mounts, paging with Link, referrers, deletes, errors and access.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { createRegistryRouter, createSiteRegistry, type RegistryAccess, type SiteRegistry } from '../../src/registry/index.js';
import { rawRequest } from '../helpers/raw-http.js';
import { buildPlatformImage, sha256Digest, type TestBlob, type TestPlatformImage } from '../helpers/skopeo.js';

const tokens = { admin: 'admin-token-71aa', operator: 'operator-token-c3d0', read: 'read-token-e2b9' } as const;
const ociManifest = 'application/vnd.oci.image.manifest.v1+json';
const ociIndex = 'application/vnd.oci.image.index.v1+json';

interface OciErrorBody {
  errors: Array<{ code: string; message?: string; detail?: Record<string, unknown> }>;
}

describe('site registry /v2 protocol', () => {
  let dataDir: string;
  let registry: SiteRegistry;
  let server: Server;
  let base: string;
  const access: RegistryAccess = {
    anonymousPull: false,
    authenticate: async (authorization) => {
      const role = (Object.keys(tokens) as Array<keyof typeof tokens>).find((r) => authorization === `Bearer ${tokens[r]}`);
      return role ? { role } : undefined;
    },
  };

  const auth = (role: keyof typeof tokens = 'operator') => ({ authorization: `Bearer ${tokens[role]}` });
  const request = (path: string, init: RequestInit & { role?: keyof typeof tokens | null } = {}) => {
    const { role = 'operator', headers, ...rest } = init;
    return fetch(`${base}${path}`, { ...rest, headers: { ...(role ? auth(role) : {}), ...(headers as Record<string, string> | undefined) } });
  };
  const errorCodes = async (res: Response) => ((await res.json()) as OciErrorBody).errors.map((e) => e.code);

  async function pushBlob(repository: string, blob: TestBlob | Buffer): Promise<string> {
    const bytes = Buffer.isBuffer(blob) ? blob : blob.bytes;
    const digest = sha256Digest(bytes);
    const res = await request(`/v2/${repository}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    assert.equal(res.status, 201, await res.text());
    return digest;
  }

  async function pushImage(repository: string, image: TestPlatformImage, reference: string): Promise<Response> {
    await pushBlob(repository, image.config);
    for (const layer of image.layers) await pushBlob(repository, layer);
    return request(`/v2/${repository}/manifests/${reference}`, { method: 'PUT', headers: { 'content-type': ociManifest }, body: image.manifest.bytes });
  }

  /** The same push with the given Authorization headers instead of an API token. */
  async function pushImageWith(repository: string, image: TestPlatformImage, reference: string, headers: Record<string, string>): Promise<Response> {
    for (const blob of [image.config, ...image.layers]) {
      const res = await request(`/v2/${repository}/blobs/uploads/?digest=${blob.digest}`, { role: null, method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: blob.bytes });
      assert.equal(res.status, 201, await res.text());
    }
    return request(`/v2/${repository}/manifests/${reference}`, { role: null, method: 'PUT', headers: { ...headers, 'content-type': ociManifest }, body: image.manifest.bytes });
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-registry-protocol-'));
    registry = await createSiteRegistry({ dataDir });
    const app = express();
    app.use('/v2', createRegistryRouter(registry, access));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await registry.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('version check and access', () => {
    it('answers GET /v2/ with 200 {} and the API version header', async () => {
      const res = await request('/v2/');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.deepEqual(await res.json(), {});
    });

    it('answers 401 UNAUTHORIZED with a Basic challenge without credentials or with unknown ones', async () => {
      const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer not-a-token' }, { authorization: `Basic ${Buffer.from('u:wrong').toString('base64')}` }];
      for (const headers of attempts) {
        const res = await request('/v2/', { role: null, headers });
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), 'Basic realm="berth"');
        assert.deepEqual(await errorCodes(res), ['UNAUTHORIZED']);
      }
    });

    it('takes the token as the password of Basic auth, whatever the username', async () => {
      const basic = `Basic ${Buffer.from(`whoever:${tokens.read}`).toString('base64')}`;
      const res = await request('/v2/', { role: null, headers: { authorization: basic } });
      assert.equal(res.status, 200);
    });

    it('lets a read token pull but answers 403 DENIED when it pushes or deletes', async () => {
      const image = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { 'access-test': 'x' });
      assert.equal((await pushImage('access/test', image, 'v1')).status, 201);
      assert.equal((await request('/v2/access/test/manifests/v1', { role: 'read' })).status, 200);
      const push = await request('/v2/access/test/blobs/uploads/', { method: 'POST', role: 'read' });
      assert.equal(push.status, 403);
      assert.deepEqual(await errorCodes(push), ['DENIED']);
      const put = await request('/v2/access/test/manifests/v2', { method: 'PUT', role: 'read', headers: { 'content-type': ociManifest }, body: image.manifest.bytes });
      assert.equal(put.status, 403);
      const del = await request('/v2/access/test/manifests/v1', { method: 'DELETE', role: 'read' });
      assert.equal(del.status, 403);
      assert.equal((await request('/v2/access/test/manifests/v1', { role: 'read' })).status, 200);
    });

    it('allows anonymous GET/HEAD only when anonymousPull is on, and never anonymous pushes', async () => {
      const image = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { 'anon-test': 'y' });
      assert.equal((await pushImage('anon/test', image, 'v1')).status, 201);
      try {
        assert.equal((await request('/v2/anon/test/manifests/v1', { role: null })).status, 401);
        access.anonymousPull = true;
        assert.equal((await request('/v2/anon/test/manifests/v1', { role: null })).status, 200);
        assert.equal((await request(`/v2/anon/test/blobs/${image.config.digest}`, { role: null, method: 'HEAD' })).status, 200);
        // The ping is challenged even so: a client that is never challenged never learns to authenticate for a push.
        const ping = await request('/v2/', { role: null });
        assert.equal(ping.status, 401);
        assert.equal(ping.headers.get('www-authenticate'), `Bearer realm="${base}/v2/token",service="berth"`);
        const push = await request('/v2/anon/test/blobs/uploads/', { role: null, method: 'POST' });
        assert.equal(push.status, 401);
        assert.equal(push.headers.get('www-authenticate'), `Bearer realm="${base}/v2/token",service="berth",scope="repository:anon/test:pull,push"`);
        // Credentials still work as they are, with or without anonymous pull.
        assert.equal((await request('/v2/', { role: 'read' })).status, 200);
      } finally {
        access.anonymousPull = false;
      }
    });
  });

  describe('the token flow (realm /v2/token)', () => {
    type TokenAnswer = { token: string; access_token: string; expires_in: number; issued_at: string };
    const basic = (role: keyof typeof tokens) => `Basic ${Buffer.from(`someone:${tokens[role]}`).toString('base64')}`;
    const fetchToken = async (scopes: string[], authorization?: string): Promise<Response> => {
      const query = new URLSearchParams([['service', 'berth'], ...scopes.map((s): [string, string] => ['scope', s])]);
      return request(`/v2/token?${query}`, { role: null, headers: authorization ? { authorization } : {} });
    };
    const tokenOf = async (res: Response): Promise<string> => {
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const body = (await res.json()) as TokenAnswer;
      assert.equal(body.token, body.access_token);
      assert.equal(body.expires_in, 300);
      assert.ok(Math.abs(Date.parse(body.issued_at) - Date.now()) < 60_000);
      return body.token;
    };
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    let image: TestPlatformImage;

    before(async () => {
      image = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { 'token-flow': 'z' });
      assert.equal((await pushImage('flow/app', image, 'v1')).status, 201);
      access.anonymousPull = true;
    });
    after(() => {
      access.anonymousPull = false;
    });

    it('gives anonymous callers pull scopes only, which pull and nothing more', async () => {
      const token = await tokenOf(await fetchToken(['repository:flow/app:pull,push,delete']));
      assert.equal((await request('/v2/', { role: null, headers: bearer(token) })).status, 200);
      assert.equal((await request('/v2/flow/app/manifests/v1', { role: null, headers: bearer(token) })).status, 200);
      const push = await request('/v2/flow/app/blobs/uploads/', { role: null, method: 'POST', headers: bearer(token) });
      assert.equal(push.status, 401);
      assert.match(push.headers.get('www-authenticate') ?? '', /^Bearer realm="[^"]+\/v2\/token",service="berth",scope="repository:flow\/app:pull,push",error="insufficient_scope"$/);
      const remove = await request('/v2/flow/app/manifests/v1', { role: null, method: 'DELETE', headers: bearer(token) });
      assert.equal(remove.status, 401);
      // A scope is for one repository: the token pulls nothing else.
      assert.equal((await request('/v2/anon/test/manifests/v1', { role: null, headers: bearer(token) })).status, 401);
    });

    it('exchanges an API token (Basic password or Bearer) for what its role allows of the scopes asked', async () => {
      const pusher = await tokenOf(await fetchToken(['repository:flow/pushed:pull,push'], basic('operator')));
      assert.equal((await pushImageWith('flow/pushed', image, 'v1', bearer(pusher))).status, 201);
      const viaBearer = await tokenOf(await fetchToken(['repository:flow/pushed:pull,push,delete'], `Bearer ${tokens.admin}`));
      assert.equal((await request('/v2/flow/pushed/manifests/v1', { role: null, method: 'DELETE', headers: bearer(viaBearer) })).status, 202);
      const reader = await tokenOf(await fetchToken(['repository:flow/app:pull,push'], basic('read')));
      assert.equal((await request('/v2/flow/app/manifests/v1', { role: null, headers: bearer(reader) })).status, 200);
      assert.equal((await request('/v2/flow/app/blobs/uploads/', { role: null, method: 'POST', headers: bearer(reader) })).status, 401);
      const catalog = await tokenOf(await fetchToken(['registry:catalog:*'], basic('read')));
      assert.equal((await request('/v2/_catalog', { role: null, headers: bearer(catalog) })).status, 200);
      // Several scopes in one parameter, space-separated, as some clients send them.
      const both = await tokenOf(await fetchToken(['repository:flow/app:pull repository:anon/test:pull']));
      assert.equal((await request('/v2/anon/test/manifests/v1', { role: null, headers: bearer(both) })).status, 200);
    });

    it('refuses wrong credentials, forged, altered and foreign tokens, malformed scopes and other methods', async () => {
      for (const authorization of [`Basic ${Buffer.from('u:wrong').toString('base64')}`, 'Bearer not-a-token', 'Basic !!!']) {
        const res = await fetchToken(['repository:flow/app:pull'], authorization);
        assert.equal(res.status, 401, authorization);
        assert.equal(res.headers.get('www-authenticate'), 'Basic realm="berth"');
      }
      const token = await tokenOf(await fetchToken(['repository:flow/app:pull']));
      const [payload, signature] = token.slice('berth-registry.'.length).split('.') as [string, string];
      const widened = Buffer.from(JSON.stringify({ exp: 4_102_444_800, access: [{ type: 'repository', name: 'flow/app', actions: ['pull', 'push', 'delete'] }] })).toString('base64url');
      const forgeries = [
        `berth-registry.${widened}.${signature}`,
        `berth-registry.${payload}.${signature.slice(0, -2)}AA`,
        `berth-registry.${payload}`,
        `berth-registry.${payload}.${signature}.x`,
        `berth-registry.${Buffer.from('{"exp":1,"access":[]}').toString('base64url')}.${signature}`,
      ];
      for (const forged of forgeries) {
        const res = await request('/v2/flow/app/manifests/v1', { role: null, method: 'DELETE', headers: bearer(forged) });
        assert.equal(res.status, 401, forged);
      }
      // A token from another Berth (another process, another key) is as good as a forged one.
      const otherApp = express();
      otherApp.use('/v2', createRegistryRouter(registry, access));
      const otherServer = await new Promise<Server>((resolve) => {
        const s = otherApp.listen(0, '127.0.0.1', () => resolve(s));
      });
      try {
        const foreignAnswer = await fetch(`http://127.0.0.1:${(otherServer.address() as AddressInfo).port}/v2/token?scope=repository:flow/app:pull`);
        const foreign = await tokenOf(foreignAnswer);
        assert.equal((await request('/v2/flow/app/manifests/v1', { role: null, headers: bearer(foreign) })).status, 401);
      } finally {
        await new Promise<void>((resolve) => otherServer.close(() => resolve()));
      }
      for (const scope of ['repository', 'repository:flow/app', 'repository:Flow/App:pull', 'repository:flow/../app:pull', 'registry:other:*', 'nope:x:pull', `repository:${'a'.repeat(600)}:pull`]) {
        const res = await fetchToken([scope]);
        assert.equal(res.status, 400, scope);
        assert.deepEqual(await errorCodes(res), ['UNSUPPORTED']);
      }
      assert.equal((await fetchToken(Array.from({ length: 33 }, (_, i) => `repository:r${i}:pull`))).status, 400);
      const post = await request('/v2/token', { role: null, method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET');
    });

    it('gives nobody a token without credentials when anonymous pull is off', async () => {
      access.anonymousPull = false;
      try {
        const res = await fetchToken(['repository:flow/app:pull']);
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), 'Basic realm="berth"');
        assert.equal((await fetchToken(['repository:flow/app:pull'], basic('read'))).status, 200);
      } finally {
        access.anonymousPull = true;
      }
    });
  });

  describe('manifests', () => {
    let image: TestPlatformImage;
    before(async () => {
      image = await buildPlatformImage({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    });

    it('stores a manifest pushed by tag and answers with Location and its digest', async () => {
      const res = await pushImage('apps/web', image, 'v1');
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('docker-content-digest'), image.manifest.digest);
      assert.equal(res.headers.get('location'), `/v2/apps/web/manifests/${image.manifest.digest}`);
    });

    it('answers HEAD and GET by tag and by digest with the stored bytes, media type, digest and length', async () => {
      for (const reference of ['v1', image.manifest.digest]) {
        const head = await request(`/v2/apps/web/manifests/${reference}`, { method: 'HEAD', role: 'read' });
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('content-type'), ociManifest);
        assert.equal(head.headers.get('docker-content-digest'), image.manifest.digest);
        assert.equal(head.headers.get('content-length'), String(image.manifest.bytes.length));
        const get = await request(`/v2/apps/web/manifests/${reference}`, { role: 'read' });
        assert.equal(get.status, 200);
        assert.equal(get.headers.get('content-type'), ociManifest);
        assert.ok(Buffer.from(await get.arrayBuffer()).equals(image.manifest.bytes));
      }
    });

    it('answers 404 MANIFEST_UNKNOWN for an unknown tag and NAME_UNKNOWN for an unknown repository', async () => {
      const tag = await request('/v2/apps/web/manifests/nope', { role: 'read' });
      assert.equal(tag.status, 404);
      assert.deepEqual(await errorCodes(tag), ['MANIFEST_UNKNOWN']);
      const repo = await request('/v2/apps/nothing-here/manifests/v1', { role: 'read' });
      assert.equal(repo.status, 404);
      assert.deepEqual(await errorCodes(repo), ['NAME_UNKNOWN']);
    });

    it('refuses a manifest whose blobs are missing with MANIFEST_BLOB_UNKNOWN, one error per digest', async () => {
      const other = await buildPlatformImage({ os: 'linux', architecture: 's390x' });
      const res = await request('/v2/apps/web/manifests/missing', { method: 'PUT', headers: { 'content-type': ociManifest }, body: other.manifest.bytes });
      assert.equal(res.status, 400);
      const body = (await res.json()) as OciErrorBody;
      assert.deepEqual(body.errors.map((e) => e.code), ['MANIFEST_BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN']);
      assert.deepEqual(body.errors.map((e) => e.detail?.digest).sort(), [other.config.digest, other.layers[0]!.digest].sort());
      assert.equal((await request('/v2/apps/web/manifests/missing', { method: 'HEAD' })).status, 404);
    });

    it('refuses bodies that are not a manifest of a known media type with MANIFEST_INVALID', async () => {
      const cases: Array<[string, string | Buffer]> = [
        [ociManifest, '{not json'],
        [ociManifest, JSON.stringify({ schemaVersion: 1 })],
        ['application/vnd.example.unknown+json', image.manifest.bytes],
        [ociIndex, image.manifest.bytes],
        [ociManifest, JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: 'sha256:zz', size: 1 }, layers: [] })],
      ];
      for (const [contentType, body] of cases) {
        const res = await request('/v2/apps/web/manifests/bad', { method: 'PUT', headers: { 'content-type': contentType }, body });
        assert.equal(res.status, 400, `${contentType} ${String(body).slice(0, 40)}`);
        assert.deepEqual(await errorCodes(res), ['MANIFEST_INVALID']);
      }
    });

    it('refuses a manifest over 4 MiB with 413', async () => {
      const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
      const res = await request('/v2/apps/web/manifests/huge', { method: 'PUT', headers: { 'content-type': ociManifest }, body: huge });
      assert.equal(res.status, 413);
      assert.deepEqual(await errorCodes(res), ['MANIFEST_INVALID']);
    });

    it('refuses a manifest pushed by a digest that is not its own with DIGEST_INVALID', async () => {
      const wrong = sha256Digest(Buffer.from('something else'));
      const res = await request(`/v2/apps/web/manifests/${wrong}`, { method: 'PUT', headers: { 'content-type': ociManifest }, body: image.manifest.bytes });
      assert.equal(res.status, 400);
      assert.deepEqual(await errorCodes(res), ['DIGEST_INVALID']);
    });

    it('answers GET and HEAD of a malformed tag with 404 MANIFEST_UNKNOWN, as distribution does; a PUT to it is a 400', async () => {
      for (const tag of ['.INVALID_MANIFEST_NAME', '-dash', 'a'.repeat(129), 'sp%20ace', 'x!y']) {
        const get = await request(`/v2/apps/web/manifests/${tag}`, { role: 'read' });
        assert.equal(get.status, 404, tag);
        assert.deepEqual(await errorCodes(get), ['MANIFEST_UNKNOWN']);
        assert.equal((await request(`/v2/apps/web/manifests/${tag}`, { role: 'read', method: 'HEAD' })).status, 404, tag);
      }
      const put = await request('/v2/apps/web/manifests/.INVALID_MANIFEST_NAME', { method: 'PUT', headers: { 'content-type': ociManifest }, body: image.manifest.bytes });
      assert.equal(put.status, 400);
      assert.deepEqual(await errorCodes(put), ['MANIFEST_INVALID']);
    });

    it('has one spelling per path: dot and empty segments, encoded letters and slashes, other cases are refused', async () => {
      const spellings = [
        '/v2/apps/web/../web/manifests/v1', '/v2/apps/./web/manifests/v1', '/v2/apps//web/manifests/v1', '/v2/apps/web/manifests/%2e%2e',
        '/v2/apps/%77eb/manifests/v1', '/v2/apps/web/manifests/%761', '/v2/apps%2Fweb/manifests/v1', '/v2/Apps/Web/manifests/v1',
        '/v2/apps/web/manifests/v1/', '/v2/apps/web%2F..%2Fweb/manifests/v1', '/v2/apps\\web/manifests/v1',
      ];
      for (const path of spellings) {
        for (const role of ['read', 'admin'] as const) {
          // Sent as written: fetch would resolve the dot segments itself.
          const res = await rawRequest(base, { method: 'GET', path, headers: auth(role) });
          assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status}`);
          const codes = (JSON.parse(res.text) as OciErrorBody).errors.map((e) => e.code);
          assert.deepEqual(codes, res.status === 400 ? ['NAME_INVALID'] : ['UNSUPPORTED'], path);
        }
      }
      assert.equal((await request('/v2/apps/web/manifests/v1', { role: 'read' })).status, 200, 'the one spelling');
    });

    it('stores an index whose platform manifests were pushed by digest, and applies ?tag= with OCI-Tag', async () => {
      const amd64 = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { 'index-test': 'amd64' });
      assert.equal((await pushImage('apps/multi', amd64, amd64.manifest.digest)).status, 201);
      assert.equal((await pushImage('apps/multi', image, image.manifest.digest)).status, 201);
      const indexBytes = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: ociIndex,
        manifests: [amd64, image].map((i) => ({ mediaType: ociManifest, digest: i.manifest.digest, size: i.manifest.bytes.length, platform: i.platform })),
      }));
      const indexDigest = sha256Digest(indexBytes);
      const res = await request(`/v2/apps/multi/manifests/${indexDigest}?tag=latest&tag=1.0`, { method: 'PUT', headers: { 'content-type': ociIndex }, body: indexBytes });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('oci-tag'), 'latest, 1.0');
      const get = await request('/v2/apps/multi/manifests/latest', { role: 'read' });
      assert.equal(get.headers.get('content-type'), ociIndex);
      assert.equal(get.headers.get('docker-content-digest'), indexDigest);
      const summary = await registry.getRepository('apps/multi');
      assert.deepEqual(summary.tags.map((t) => [t.tag, t.platforms]), [['1.0', ['linux/amd64', 'linux/arm64/v8']], ['latest', ['linux/amd64', 'linux/arm64/v8']]]);
    });

    it('refuses an index whose child manifests are not in the repository', async () => {
      const indexBytes = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: ociIndex,
        manifests: [{ mediaType: ociManifest, digest: image.manifest.digest, size: image.manifest.bytes.length }],
      }));
      const res = await request('/v2/apps/elsewhere/manifests/latest', { method: 'PUT', headers: { 'content-type': ociIndex }, body: indexBytes });
      assert.equal(res.status, 400);
      assert.deepEqual(await errorCodes(res), ['MANIFEST_BLOB_UNKNOWN']);
    });

    it('deletes a tag (202, then 404) and a manifest by digest (202, then 404 by digest)', async () => {
      const victim = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { 'delete-test': 'z' });
      assert.equal((await pushImage('apps/deletes', victim, 'old')).status, 201);
      assert.equal((await request('/v2/apps/deletes/manifests/old', { method: 'DELETE' })).status, 202);
      const gone = await request('/v2/apps/deletes/manifests/old', { role: 'read' });
      assert.equal(gone.status, 404);
      assert.deepEqual(await errorCodes(gone), ['MANIFEST_UNKNOWN']);
      assert.equal((await request(`/v2/apps/deletes/manifests/${victim.manifest.digest}`, { method: 'HEAD' })).status, 200);
      assert.equal((await request('/v2/apps/deletes/manifests/again', { method: 'PUT', headers: { 'content-type': ociManifest }, body: victim.manifest.bytes })).status, 201);
      assert.equal((await request(`/v2/apps/deletes/manifests/${victim.manifest.digest}`, { method: 'DELETE' })).status, 202);
      assert.equal((await request(`/v2/apps/deletes/manifests/${victim.manifest.digest}`, { method: 'HEAD' })).status, 404);
      assert.equal((await request('/v2/apps/deletes/manifests/again', { method: 'HEAD' })).status, 404);
      assert.equal((await request(`/v2/apps/deletes/manifests/${victim.manifest.digest}`, { method: 'DELETE' })).status, 404);
    });
  });

  describe('blobs and uploads', () => {
    const content = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 13) % 256));
    const digest = sha256Digest(content);

    it('takes a monolithic POST ?digest= upload, then answers HEAD and GET with length and digest', async () => {
      const res = await request(`/v2/blobs/mono/blobs/uploads/?digest=${digest}`, { method: 'POST', body: content });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('location'), `/v2/blobs/mono/blobs/${digest}`);
      assert.equal(res.headers.get('docker-content-digest'), digest);
      const head = await request(`/v2/blobs/mono/blobs/${digest}`, { method: 'HEAD', role: 'read' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '1000');
      assert.equal(head.headers.get('docker-content-digest'), digest);
      const get = await request(`/v2/blobs/mono/blobs/${digest}`, { role: 'read' });
      assert.ok(Buffer.from(await get.arrayBuffer()).equals(content));
    });

    it('serves Range requests with 206 and Content-Range, and 416 past the end', async () => {
      const mid = await request(`/v2/blobs/mono/blobs/${digest}`, { role: 'read', headers: { range: 'bytes=100-199' } });
      assert.equal(mid.status, 206);
      assert.equal(mid.headers.get('content-range'), 'bytes 100-199/1000');
      assert.ok(Buffer.from(await mid.arrayBuffer()).equals(content.subarray(100, 200)));
      const open = await request(`/v2/blobs/mono/blobs/${digest}`, { role: 'read', headers: { range: 'bytes=990-' } });
      assert.equal(open.status, 206);
      assert.equal(open.headers.get('content-range'), 'bytes 990-999/1000');
      assert.ok(Buffer.from(await open.arrayBuffer()).equals(content.subarray(990)));
      const suffix = await request(`/v2/blobs/mono/blobs/${digest}`, { role: 'read', headers: { range: 'bytes=-10' } });
      assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(content.subarray(990)));
      const past = await request(`/v2/blobs/mono/blobs/${digest}`, { role: 'read', headers: { range: 'bytes=1000-' } });
      assert.equal(past.status, 416);
      assert.equal(past.headers.get('content-range'), 'bytes */1000');
    });

    it('refuses a monolithic upload whose digest does not match with 400 DIGEST_INVALID, leaving nothing visible', async () => {
      const body = Buffer.from('these bytes do not hash to the claimed digest');
      const claimed = sha256Digest(Buffer.from('claimed'));
      const res = await request(`/v2/blobs/wrong/blobs/uploads/?digest=${claimed}`, { method: 'POST', body });
      assert.equal(res.status, 400);
      assert.deepEqual(await errorCodes(res), ['DIGEST_INVALID']);
      for (const d of [claimed, sha256Digest(body)]) {
        assert.equal((await request(`/v2/blobs/wrong/blobs/${d}`, { method: 'HEAD' })).status, 404);
        assert.equal(await registry.blobs.has(d), false);
      }
      assert.deepEqual(readdirSync(join(dataDir, 'uploads')), []);
    });

    it('runs a POST/PATCH/PUT chunked upload, answering 416 with the current Range for an out-of-order chunk', async () => {
      const start = await request('/v2/blobs/chunked/blobs/uploads/', { method: 'POST' });
      assert.equal(start.status, 202);
      const location = start.headers.get('location')!;
      assert.match(location, /^\/v2\/blobs\/chunked\/blobs\/uploads\/[0-9a-f-]+$/);
      assert.equal(start.headers.get('range'), '0-0');
      assert.equal(start.headers.get('docker-upload-uuid'), location.split('/').at(-1));

      const first = await fetch(`${base}${location}`, { method: 'PATCH', headers: { ...auth(), 'content-range': '0-399', 'content-type': 'application/octet-stream' }, body: content.subarray(0, 400) });
      assert.equal(first.status, 202);
      assert.equal(first.headers.get('range'), '0-399');

      const outOfOrder = await fetch(`${base}${location}`, { method: 'PATCH', headers: { ...auth(), 'content-range': '500-599' }, body: content.subarray(500, 600) });
      assert.equal(outOfOrder.status, 416);
      assert.equal(outOfOrder.headers.get('range'), '0-399');
      assert.equal(outOfOrder.headers.get('location'), location);

      const malformed = await fetch(`${base}${location}`, { method: 'PATCH', headers: { ...auth(), 'content-range': 'bytes four-hundred' }, body: content.subarray(400, 500) });
      assert.equal(malformed.status, 416);

      const status = await fetch(`${base}${location}`, { headers: auth() });
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), '0-399');

      // A PATCH without Content-Range appends (the streaming style docker and skopeo use).
      const second = await fetch(`${base}${location}`, { method: 'PATCH', headers: auth(), body: content.subarray(400, 800) });
      assert.equal(second.status, 202);
      assert.equal(second.headers.get('range'), '0-799');

      const done = await fetch(`${base}${location}?digest=${digest}`, { method: 'PUT', headers: { ...auth(), 'content-range': '800-999' }, body: content.subarray(800) });
      assert.equal(done.status, 201);
      assert.equal(done.headers.get('location'), `/v2/blobs/chunked/blobs/${digest}`);
      const get = await request(`/v2/blobs/chunked/blobs/${digest}`, { role: 'read' });
      assert.ok(Buffer.from(await get.arrayBuffer()).equals(content));
      assert.equal((await fetch(`${base}${location}`, { headers: auth() })).status, 404);
    });

    it('completes a POST-then-PUT monolithic upload', async () => {
      const body = Buffer.from('post then put');
      const start = await request('/v2/blobs/postput/blobs/uploads/', { method: 'POST' });
      const done = await fetch(`${base}${start.headers.get('location')}?digest=${sha256Digest(body)}`, { method: 'PUT', headers: auth(), body });
      assert.equal(done.status, 201);
      assert.equal(done.headers.get('docker-content-digest'), sha256Digest(body));
    });

    it('cancels an upload with DELETE, after which it is BLOB_UPLOAD_UNKNOWN', async () => {
      const start = await request('/v2/blobs/cancel/blobs/uploads/', { method: 'POST' });
      const location = start.headers.get('location')!;
      await fetch(`${base}${location}`, { method: 'PATCH', headers: auth(), body: Buffer.from('abandoned bytes') });
      assert.equal((await fetch(`${base}${location}`, { method: 'DELETE', headers: auth() })).status, 204);
      const status = await fetch(`${base}${location}`, { headers: auth() });
      assert.equal(status.status, 404);
      assert.deepEqual(await errorCodes(status), ['BLOB_UPLOAD_UNKNOWN']);
      assert.deepEqual(readdirSync(join(dataDir, 'uploads')), []);
    });

    it('does not accept a session under another repository than the one that started it', async () => {
      const start = await request('/v2/blobs/owner/blobs/uploads/', { method: 'POST' });
      const id = start.headers.get('location')!.split('/').at(-1);
      const res = await request(`/v2/blobs/intruder/blobs/uploads/${id}`, { method: 'PATCH', body: Buffer.from('x') });
      assert.equal(res.status, 404);
      assert.deepEqual(await errorCodes(res), ['BLOB_UPLOAD_UNKNOWN']);
    });

    it('mounts a blob from another repository with 201, and falls back to a 202 session when it cannot', async () => {
      assert.equal((await request(`/v2/blobs/mounted/blobs/${digest}`, { method: 'HEAD' })).status, 404);
      const mount = await request(`/v2/blobs/mounted/blobs/uploads/?mount=${digest}&from=blobs/mono`, { method: 'POST' });
      assert.equal(mount.status, 201);
      assert.equal(mount.headers.get('location'), `/v2/blobs/mounted/blobs/${digest}`);
      assert.equal(mount.headers.get('docker-content-digest'), digest);
      assert.equal((await request(`/v2/blobs/mounted/blobs/${digest}`, { method: 'HEAD' })).status, 200);
      const unknown = sha256Digest(Buffer.from('never uploaded'));
      const fallback = await request(`/v2/blobs/mounted/blobs/uploads/?mount=${unknown}&from=blobs/mono`, { method: 'POST' });
      assert.equal(fallback.status, 202);
      assert.match(fallback.headers.get('location')!, /\/v2\/blobs\/mounted\/blobs\/uploads\//);
    });

    it('hides a blob from repositories it is not linked to, and unlinks it on DELETE', async () => {
      assert.equal((await request(`/v2/blobs/stranger/blobs/${digest}`, { method: 'HEAD' })).status, 404);
      const res = await request(`/v2/blobs/mounted/blobs/${digest}`, { method: 'DELETE' });
      assert.equal(res.status, 202);
      const after = await request(`/v2/blobs/mounted/blobs/${digest}`, { role: 'read' });
      assert.equal(after.status, 404);
      assert.deepEqual(await errorCodes(after), ['BLOB_UNKNOWN']);
      assert.equal((await request(`/v2/blobs/mono/blobs/${digest}`, { method: 'HEAD' })).status, 200);
    });

    it('answers 400 DIGEST_INVALID for a malformed digest and NAME_INVALID for a bad repository name', async () => {
      const digestRes = await request('/v2/blobs/mono/blobs/sha256:1234', { role: 'read' });
      assert.equal(digestRes.status, 400);
      assert.deepEqual(await errorCodes(digestRes), ['DIGEST_INVALID']);
      const nameRes = await request('/v2/Upper/Case/tags/list', { role: 'read' });
      assert.equal(nameRes.status, 400);
      assert.deepEqual(await errorCodes(nameRes), ['NAME_INVALID']);
      const method = await request('/v2/blobs/mono/tags/list', { method: 'POST' });
      assert.equal(method.status, 405);
      assert.deepEqual(await errorCodes(method), ['UNSUPPORTED']);
    });
  });

  describe('listing', () => {
    const tagNames = ['alpha', 'beta', 'Gamma', '1.0', 'delta'];

    before(async () => {
      const image = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { 'listing-test': 'l' });
      for (const tag of tagNames) assert.equal((await pushImage('list/tags', image, tag)).status, 201);
      for (const repo of ['list/r1', 'list/r2', 'list/r3']) assert.equal((await pushImage(repo, image, 'v1')).status, 201);
    });

    it('lists tags in byte order and pages them with n, last and a Link header', async () => {
      const all = await request('/v2/list/tags/tags/list', { role: 'read' });
      assert.deepEqual(await all.json(), { name: 'list/tags', tags: ['1.0', 'Gamma', 'alpha', 'beta', 'delta'] });
      assert.equal(all.headers.get('link'), null);

      const collected: string[] = [];
      let next: string | null = '/v2/list/tags/tags/list?n=2';
      let pages = 0;
      while (next) {
        const res = await request(next, { role: 'read' });
        const body = (await res.json()) as { tags: string[] };
        assert.ok(body.tags.length <= 2);
        collected.push(...body.tags);
        const link = res.headers.get('link');
        next = link ? /^<([^>]+)>; rel="next"$/.exec(link)![1]! : null;
        pages += 1;
      }
      assert.deepEqual(collected, ['1.0', 'Gamma', 'alpha', 'beta', 'delta']);
      assert.equal(pages, 3);

      const afterLast = await request('/v2/list/tags/tags/list?n=10&last=alpha', { role: 'read' });
      assert.deepEqual(((await afterLast.json()) as { tags: string[] }).tags, ['beta', 'delta']);
      const zero = await request('/v2/list/tags/tags/list?n=0', { role: 'read' });
      assert.deepEqual(((await zero.json()) as { tags: string[] }).tags, []);
      assert.equal(zero.headers.get('link'), null);
    });

    it('answers 404 NAME_UNKNOWN for the tags of an unknown repository', async () => {
      const res = await request('/v2/list/absent/tags/list', { role: 'read' });
      assert.equal(res.status, 404);
      assert.deepEqual(await errorCodes(res), ['NAME_UNKNOWN']);
    });

    it('lists repositories in _catalog, paged with n, last and a Link header', async () => {
      const first = await request('/v2/_catalog?n=2&last=list/r', { role: 'read' });
      assert.deepEqual(await first.json(), { repositories: ['list/r1', 'list/r2'] });
      assert.equal(first.headers.get('link'), '</v2/_catalog?n=2&last=list%2Fr2>; rel="next"');
      const second = await request('/v2/_catalog?n=2&last=list%2Fr2', { role: 'read' });
      const repositories = ((await second.json()) as { repositories: string[] }).repositories;
      assert.equal(repositories[0], 'list/r3');
      const all = await request('/v2/_catalog', { role: 'read' });
      const names = ((await all.json()) as { repositories: string[] }).repositories;
      assert.deepEqual(names, [...names].sort());
      assert.ok(names.includes('list/tags') && names.includes('list/r3'));
      const bad = await request('/v2/_catalog?n=many', { role: 'read' });
      assert.equal(bad.status, 400);
    });
  });

  describe('referrers', () => {
    let subject: TestPlatformImage;
    let sbomDigest: string;
    let signatureDigest: string;
    const emptyConfig = Buffer.from('{}');

    before(async () => {
      subject = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { 'referrers-test': 'r' });
      assert.equal((await pushImage('refs/app', subject, 'v1')).status, 201);
      await pushBlob('refs/app', emptyConfig);
    });

    const artifact = (artifactType: string, annotations: Record<string, string>, subjectDigest: string, subjectSize: number) => Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: ociManifest,
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(emptyConfig), size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(emptyConfig), size: 2 }],
      subject: { mediaType: ociManifest, digest: subjectDigest, size: subjectSize },
      annotations,
    }));

    it('accepts a manifest with a subject and answers OCI-Subject', async () => {
      const sbom = artifact('application/vnd.example.sbom.v1', { 'org.example.format': 'json' }, subject.manifest.digest, subject.manifest.bytes.length);
      sbomDigest = sha256Digest(sbom);
      const res = await request(`/v2/refs/app/manifests/${sbomDigest}`, { method: 'PUT', headers: { 'content-type': ociManifest }, body: sbom });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('oci-subject'), subject.manifest.digest);
      const signature = artifact('application/vnd.example.signature.v1', { 'org.example.fingerprint': 'abcd' }, subject.manifest.digest, subject.manifest.bytes.length);
      signatureDigest = sha256Digest(signature);
      assert.equal((await request(`/v2/refs/app/manifests/${signatureDigest}`, { method: 'PUT', headers: { 'content-type': ociManifest }, body: signature })).status, 201);
    });

    it('lists referrers as an OCI index with artifactType and annotations', async () => {
      const res = await request(`/v2/refs/app/referrers/${subject.manifest.digest}`, { role: 'read' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), ociIndex);
      const index = (await res.json()) as { schemaVersion: number; mediaType: string; manifests: Array<Record<string, unknown>> };
      assert.equal(index.schemaVersion, 2);
      assert.equal(index.mediaType, ociIndex);
      const byDigest = new Map(index.manifests.map((m) => [m.digest, m]));
      assert.deepEqual(byDigest.get(sbomDigest), {
        mediaType: ociManifest,
        digest: sbomDigest,
        size: artifact('application/vnd.example.sbom.v1', { 'org.example.format': 'json' }, subject.manifest.digest, subject.manifest.bytes.length).length,
        artifactType: 'application/vnd.example.sbom.v1',
        annotations: { 'org.example.format': 'json' },
      });
      assert.equal(byDigest.get(signatureDigest)?.artifactType, 'application/vnd.example.signature.v1');
    });

    it('filters referrers by artifactType and says so with OCI-Filters-Applied', async () => {
      const res = await request(`/v2/refs/app/referrers/${subject.manifest.digest}?artifactType=${encodeURIComponent('application/vnd.example.signature.v1')}`, { role: 'read' });
      assert.equal(res.headers.get('oci-filters-applied'), 'artifactType');
      const index = (await res.json()) as { manifests: Array<{ digest: string }> };
      assert.deepEqual(index.manifests.map((m) => m.digest), [signatureDigest]);
    });

    it('answers an empty index, not 404, for a digest nothing refers to, and accepts a dangling subject', async () => {
      const nobody = sha256Digest(Buffer.from('no referrers'));
      const res = await request(`/v2/refs/app/referrers/${nobody}`, { role: 'read' });
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { manifests: unknown[] }).manifests, []);
      const dangling = artifact('application/vnd.example.sbom.v1', {}, nobody, 10);
      const put = await request(`/v2/refs/app/manifests/${sha256Digest(dangling)}`, { method: 'PUT', headers: { 'content-type': ociManifest }, body: dangling });
      assert.equal(put.status, 201);
      const after = await request(`/v2/refs/app/referrers/${nobody}`, { role: 'read' });
      assert.equal(((await after.json()) as { manifests: unknown[] }).manifests.length, 1);
      const bad = await request('/v2/refs/app/referrers/not-a-digest', { role: 'read' });
      assert.equal(bad.status, 400);
    });
  });
});
