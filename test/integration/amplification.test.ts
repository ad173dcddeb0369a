// Small inputs that would make Berth fetch, hold or build far more, each met with a clear 4xx or 502 naming its bound
// (the setting an operator tunes) before the work is done: an image index that lists a manifest a thousand times or
// manifests too large in all, fetches in flight per pull and per remote registry, /v2 upload sessions (in all, per
// token, idle ones ending on a timer, none holding a file open), and a JSON Patch that doubles the document; the
// same bounds for what pull-through (the mirror, /v2 with ?ns=) fetches.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Api, errorMessage, type ApiResponse } from '../helpers/api.js';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { eventually } from '../helpers/eventually.js';
import { parseSamples, valueOf } from '../helpers/prometheus.js';
import { startHostileRegistry, type HostileRegistry, OCI_MANIFEST } from '../helpers/hostile-registry.js';
import { createCertificateAuthority, type CertificateAuthority } from '../helpers/tls.js';
import { MAX_LISTED_NAMES } from '../../src/oci/registry-client.js';

const REGISTRIES = '/v1/config/image-registry/remote-registries';
const BODY_LIMIT = 64 * 1024;
const LIMITS = {
  BERTH_MAX_MANIFEST_ENTRIES: '16',
  BERTH_MAX_PULL_MANIFEST_BYTES: String(64 * 1024),
  BERTH_OPERATION_FETCHES: '2',
  BERTH_REMOTE_FETCHES: '3',
  BERTH_UPLOAD_SESSIONS: '10',
  BERTH_UPLOAD_SESSIONS_PER_TOKEN: '4',
  BERTH_MAX_PATCH_OPERATIONS: '50',
  BERTH_BODY_LIMIT: String(BODY_LIMIT),
};

let ca: CertificateAuthority;
let remote: HostileRegistry;
let berth: BerthProcess;
let api: Api;

const pull = (body: unknown) => api.post(`/v1/state/image-registry/remote-registries/${remote.address}/pull`, body);
const listImages = (body: unknown) => api.post(`/v1/state/image-registry/remote-registries/${remote.address}/list-images`, body);
/** A runtime's GET through the mirror: containerd's `?ns=` naming the hostile registry. */
const throughMirror = (path: string) =>
  fetch(`${berth.url}/v2/${path}?ns=${remote.address}`, { headers: { authorization: `Bearer ${berth.adminToken}`, accept: OCI_MANIFEST } });
const childRequests = (digests: string[]) => remote.requests.filter((p) => digests.some((d) => p.endsWith(`/manifests/${d}`))).length;

before(async () => {
  ca = createCertificateAuthority('Berth Amplification CA');
  remote = await startHostileRegistry(ca);
  berth = await startBerth({ env: LIMITS });
  api = new Api(berth.url, berth.adminToken, assertMatchesContract);
  // Mirrored too: pull-through (/v2 with ?ns=) meets the same bounds as a pull.
  const created = await api.post(REGISTRIES, { address: remote.address, 'ca-cert': ca.certPem, mirror: { enabled: true } });
  assert.equal(created.status, 201, created.text);
});

after(async () => {
  assert.equal(await berth?.stop(), 0);
  await remote?.stop();
  if (berth) rmSync(berth.dataDir, { recursive: true, force: true });
  if (ca) rmSync(ca.dir, { recursive: true, force: true });
});

function assertBound(res: ApiResponse, status: number, setting: string): void {
  assert.equal(res.status, status, res.text);
  assert.match(errorMessage(res), new RegExp(`\\(${setting}\\)`), 'the answer names the setting that bounds it');
}

describe('image indexes from a remote registry', () => {
  it('an index listing one manifest 1,200 times is refused (502 naming BERTH_MAX_MANIFEST_ENTRIES) before any is fetched', async () => {
    const child = remote.addImage('bomb/app', 'bomb-child');
    remote.addIndex('bomb/app', Array.from({ length: 1200 }, () => child), 'idx');
    const res = await pull({ image: 'bomb/app:idx', 'all-platforms': true });
    assertBound(res, 502, 'BERTH_MAX_MANIFEST_ENTRIES');
    assert.match(errorMessage(res), /lists 1200 manifests, more than the 16/);
    assert.equal(childRequests([child.digest]), 0, 'no entry was fetched');
    assertBound(await listImages({ repository: 'bomb/app' }), 502, 'BERTH_MAX_MANIFEST_ENTRIES');
  });

  it('an index listing the same manifest again and again fetches it once, and the pull completes', async () => {
    const child = remote.addImage('dup/app', 'dup-child');
    remote.addIndex('dup/app', Array.from({ length: 12 }, () => child), 'v1');
    const res = await pull({ image: 'dup/app:v1', 'all-platforms': true });
    assert.equal(res.status, 200, res.text);
    assert.equal(childRequests([child.digest]), 1);
  });

  it('manifests too large in all are refused (502 naming BERTH_MAX_PULL_MANIFEST_BYTES) from their descriptors, before any is fetched', async () => {
    // Four real manifests of about 20 KiB each (annotations make them large): 80 KiB against a bound of 64 KiB.
    const children = Array.from({ length: 4 }, (_, i) => {
      const image = remote.addImage('large/app', `large-${i}`);
      const padded = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: image.digest, size: image.size }, layers: [], annotations: { pad: 'x'.repeat(20 * 1024) } }));
      return remote.addManifest('large/app', padded, OCI_MANIFEST);
    });
    remote.addIndex('large/app', children, 'v1');
    assertBound(await pull({ image: 'large/app:v1', 'all-platforms': true }), 502, 'BERTH_MAX_PULL_MANIFEST_BYTES');
    assert.equal(childRequests(children.map((c) => c.digest)), 0);
  });

  it('a manifest larger than its descriptor says is read no further than that size (502)', async () => {
    const child = remote.addImage('liar/app', 'liar-child');
    remote.addIndex('liar/app', [{ ...child, size: child.size - 10 }], 'v1');
    const res = await pull({ image: 'liar/app:v1', 'all-platforms': true });
    assert.equal(res.status, 502, res.text);
    assert.match(errorMessage(res), /larger than \d+ bytes \(the size its descriptor gives\)/);
  });
});

describe('an image index through the mirror (pull-through)', () => {
  it('listing more than BERTH_MAX_MANIFEST_ENTRIES (16) is a 503 naming the bound and the registry; nothing of it is fetched or stored', async () => {
    const children = Array.from({ length: 17 }, (_, i) => remote.addImage('mirror/wide', `wide-${i}`));
    remote.addIndex('mirror/wide', children, 'v1');
    const res = await throughMirror('mirror/wide/manifests/v1');
    const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
    assert.match(body.errors[0]!.message, /BERTH_MAX_MANIFEST_ENTRIES/);
    assert.ok(body.errors[0]!.message.includes(remote.address), 'names the remote registry');
    assert.equal(childRequests(children.map((c) => c.digest)), 0);
    const stored = await api.get(`/v1/state/image-registry/repositories/127.0.0.1__${remote.address.split(':')[1]}%2Fmirror%2Fwide`);
    assert.equal(stored.status, 404, stored.text);
  });
});

describe('tags through the mirror (pull-through)', () => {
  it('a remote repository with more than the 100,000 tags pull-through lists is a 503 naming it; a small one lists', async () => {
    const image = remote.addImage('mirror/listed', 'listed', { tag: 'v1' });
    const listed = await throughMirror('mirror/listed/tags/list');
    assert.equal(listed.status, 200);
    assert.deepEqual(((await listed.json()) as { tags: string[] }).tags, ['v1']);
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: image, layers: [] }));
    for (let i = 0; i <= MAX_LISTED_NAMES; i++) remote.addManifest('mirror/crowded', bytes, OCI_MANIFEST, `t${i}`);
    const res = await throughMirror('mirror/crowded/tags/list');
    const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.match(body.errors[0]!.message, /more than the 100000 tags/);
    assert.ok(body.errors[0]!.message.includes(remote.address), 'names the remote registry');
  });
});

describe('listings of a remote registry (list-repositories, list-images)', () => {
  const listRepositories = () => api.post(`/v1/state/image-registry/remote-registries/${remote.address}/list-repositories`);

  it('a catalog of more than 100,000 repositories is a 502 naming the bound; one within it lists', async () => {
    const small = await listRepositories();
    assert.equal(small.status, 200, small.text);
    remote.addCatalogNames(Array.from({ length: MAX_LISTED_NAMES + 1 }, (_, i) => `crowd/r${i}`));
    const res = await listRepositories();
    assert.equal(res.status, 502, res.text);
    assert.match(errorMessage(res), /more than the 100000 repositories/);
  });

  it('a repository of more than 100,000 tags is a 502 naming the bound for list-images', async () => {
    const image = remote.addImage('listing/crowded', 'listing-crowded');
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: image, layers: [] }));
    for (let i = 0; i <= MAX_LISTED_NAMES; i++) remote.addManifest('listing/crowded', bytes, OCI_MANIFEST, `t${i}`);
    const res = await listImages({ repository: 'listing/crowded' });
    assert.equal(res.status, 502, res.text);
    assert.match(errorMessage(res), /more than the 100000 tags/);
  });
});

describe('manifests pushed to /v2', () => {
  it('an index or image listing more than BERTH_MAX_MANIFEST_ENTRIES (16) entries is refused (400 MANIFEST_INVALID naming it)', async () => {
    const auth = { authorization: `Bearer ${berth.adminToken}`, 'content-type': OCI_MANIFEST };
    const descriptor = { mediaType: OCI_MANIFEST, digest: `sha256:${'a'.repeat(64)}`, size: 100 };
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: Array.from({ length: 17 }, () => descriptor) };
    const image = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: { ...descriptor, mediaType: 'application/vnd.oci.image.config.v1+json' }, layers: Array.from({ length: 17 }, () => ({ ...descriptor, mediaType: 'application/vnd.oci.image.layer.v1.tar' })) };
    for (const [document, type] of [[index, index.mediaType], [image, OCI_MANIFEST]] as const) {
      const res = await fetch(`${berth.url}/v2/entries/app/manifests/v1`, { method: 'PUT', headers: { ...auth, 'content-type': type }, body: JSON.stringify(document) });
      assert.equal(res.status, 400);
      const error = ((await res.json()) as { errors: Array<{ code: string; message: string }> }).errors[0]!;
      assert.equal(error.code, 'MANIFEST_INVALID');
      assert.match(error.message, /lists 17 (manifests|layers), more than the 16 Berth stores \(BERTH_MAX_MANIFEST_ENTRIES\)/);
    }
  });
});

describe('fetches in flight', () => {
  /**
   * Once the pulls have as many requests held as they may (`first`), lets held requests go one at a time. Each
   * waits at the registry until released, so a pull that broke its bound would have more held at once than it may,
   * and `maxInFlight` would show it; no timing is involved.
   */
  async function drain(first: number, total: number): Promise<void> {
    await remote.waitForHeld(first);
    for (let answered = 0; answered < total; answered++) {
      await remote.waitForHeld(1);
      assert.ok(remote.releaseOne());
    }
  }

  it('a pull has at most BERTH_OPERATION_FETCHES (2) manifest fetches in flight', async () => {
    const children = Array.from({ length: 8 }, (_, i) => remote.addImage('fan/app', `fan-${i}`));
    remote.addIndex('fan/app', children, 'v1');
    remote.resetMaxInFlight();
    remote.hold();
    try {
      const pulling = pull({ image: 'fan/app:v1', 'all-platforms': true });
      await drain(2, 8);
      const res = await pulling;
      assert.equal(res.status, 200, res.text);
    } finally {
      remote.releaseAll();
    }
    assert.equal(remote.maxInFlight, 2);
  });

  it('pulls from one registry have at most BERTH_REMOTE_FETCHES (3) requests in flight to it, together', async () => {
    const indexes = [0, 1].map((n) => {
      const children = Array.from({ length: 6 }, (_, i) => remote.addImage(`fan${n}/app`, `fan${n}-${i}`));
      remote.addIndex(`fan${n}/app`, children, 'v1');
    });
    assert.equal(indexes.length, 2);
    remote.resetMaxInFlight();
    remote.hold();
    try {
      const pulling = [0, 1].map((n) => pull({ image: `fan${n}/app:v1`, 'all-platforms': true }));
      // Two pulls of two fetches each would be four: the registry's bound holds them to three.
      await drain(3, 12);
      for (const res of await Promise.all(pulling)) assert.equal(res.status, 200, res.text);
    } finally {
      remote.releaseAll();
    }
    assert.equal(remote.maxInFlight, 3);
  });
});

describe('fetches in flight through the mirror (pull-through)', () => {
  it('runtimes asking for manifests of one registry have at most BERTH_REMOTE_FETCHES (3) requests in flight to it', async () => {
    const images = Array.from({ length: 6 }, (_, i) => remote.addImage('mirror/many', `many-${i}`));
    remote.resetMaxInFlight();
    remote.hold();
    try {
      const gets = images.map((image) => throughMirror(`mirror/many/manifests/${image.digest}`));
      await remote.waitForHeld(3);
      for (let answered = 0; answered < images.length; answered++) {
        await remote.waitForHeld(1);
        assert.ok(remote.releaseOne());
      }
      for (const res of await Promise.all(gets)) assert.equal(res.status, 200, await res.text());
    } finally {
      remote.releaseAll();
    }
    assert.equal(remote.maxInFlight, 3);
  });
});

describe('/v2 upload sessions', () => {
  const tokens: Record<string, string> = {};
  const start = (token: string) =>
    fetch(`${berth.url}/v2/sessions/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  /** A push token for sessions/app from /v2/token, asked for with `apiToken` as the Basic password. */
  const registryToken = async (apiToken: string) => {
    const res = await fetch(`${berth.url}/v2/token?service=berth&scope=repository:sessions/app:pull,push`, {
      headers: { authorization: `Basic ${Buffer.from(`ci:${apiToken}`).toString('base64')}` },
    });
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { token: string }).token;
  };
  const openFiles = () => readdirSync(`/proc/${berth.process.pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${berth.process.pid}/fd/${fd}`).includes('/uploads/');
    } catch {
      return false;
    }
  }).length;

  before(async () => {
    for (const name of ['pusher-a', 'pusher-b', 'pusher-c']) {
      const created = await api.post('/v1/config/system/tokens', { name, role: 'operator' });
      assert.equal(created.status, 201, created.text);
      tokens[name] = (created.body as { token: string }).token;
    }
  });

  it('each token (also through tokens from /v2/token) opens at most BERTH_UPLOAD_SESSIONS_PER_TOKEN (4), all at most BERTH_UPLOAD_SESSIONS (10): 429 with Retry-After; none holds a file open', async () => {
    const opened: string[] = [];
    const open = async (token: string) => {
      const res = await start(token);
      assert.equal(res.status, 202, await res.text());
      opened.push(res.headers.get('location')!);
    };
    const refused = async (token: string, setting: string) => {
      const res = await start(token);
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get('retry-after')) > 0, 'Retry-After');
      const body = (await res.json()) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, 'TOOMANYREQUESTS');
      assert.match(body.errors[0]!.message, new RegExp(`\\(${setting}\\)`));
    };
    // A token from /v2/token (the Docker token flow) opens sessions as the API token that asked for it: the same bound.
    const flowToken = await registryToken(tokens['pusher-a']!);
    for (let i = 0; i < 3; i++) await open(tokens['pusher-a']!);
    await open(flowToken);
    await refused(flowToken, 'BERTH_UPLOAD_SESSIONS_PER_TOKEN');
    await refused(tokens['pusher-a']!, 'BERTH_UPLOAD_SESSIONS_PER_TOKEN');
    for (let i = 0; i < 4; i++) await open(tokens['pusher-b']!);
    for (let i = 0; i < 2; i++) await open(tokens['pusher-c']!);
    await refused(tokens['pusher-c']!, 'BERTH_UPLOAD_SESSIONS');
    // Ten sessions open, and each has a staging file, but none an open descriptor.
    assert.equal(openFiles(), 0);

    const cancelled = await fetch(`${berth.url}${opened[0]}`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens['pusher-a']}` } });
    assert.equal(cancelled.status, 204);
    await open(tokens['pusher-a']!);
    for (const location of opened.slice(1)) {
      const res = await fetch(`${berth.url}${location}`, { method: 'DELETE', headers: { authorization: `Bearer ${berth.adminToken}` } });
      assert.equal(res.status, 204);
    }
    assert.deepEqual(readdirSync(join(berth.dataDir, 'registry', 'uploads')), []);
  });
});

describe('JSON Patch', () => {
  const path = `${REGISTRIES}/patched.example.com`;
  const credentials = Array.from({ length: 8 }, (_, i) => ({ repository: `team/app-${i}`, vault: 'kv', secret: `registries/app-${i}` }));
  const jsonPatch = (operations: unknown[]) => api.patch(path, JSON.stringify(operations), { contentType: 'application/json-patch+json' });

  before(async () => {
    const created = await api.put(path, { address: 'patched.example.com', credentials });
    assert.equal(created.status, 201, created.text);
  });

  it('40 operations that each double the document stop at the bound (413 naming BERTH_BODY_LIMIT); nothing changes', async () => {
    const doubling = Array.from({ length: 40 }, () => ({ op: 'copy', from: '/credentials', path: '/credentials/-' }));
    assertBound(await jsonPatch(doubling), 413, 'BERTH_BODY_LIMIT');
    const stored = await api.get(path);
    assert.deepEqual((stored.body as { credentials: unknown[] }).credentials, credentials);
  });

  it('copying and removing a large value over and over counts every copy', async () => {
    const churn = Array.from({ length: 48 }, (_, i) => (i % 2 === 0 ? { op: 'copy', from: '/credentials', path: '/spare' } : { op: 'remove', path: '/spare' }));
    // The document is never large at any moment; the copies add up. 24 copies of 8 credentials fit the bound.
    assert.equal((await jsonPatch(churn)).status, 204);
    const heavy = await api.put(path, { address: 'patched.example.com', credentials: Array.from({ length: 300 }, (_, i) => ({ repository: `team/app-${i}`, vault: 'kv', secret: `registries/app-${i}` })) });
    assert.equal(heavy.status, 204, heavy.text);
    assertBound(await jsonPatch(churn), 413, 'BERTH_BODY_LIMIT');
    assert.equal((await api.put(path, { address: 'patched.example.com', credentials })).status, 204);
  });

  it('more operations than BERTH_MAX_PATCH_OPERATIONS (50) are refused whole (413)', async () => {
    const many = Array.from({ length: 51 }, () => ({ op: 'test', path: '/address', value: 'patched.example.com' }));
    assertBound(await jsonPatch(many), 413, 'BERTH_MAX_PATCH_OPERATIONS');
    assert.equal((await jsonPatch(many.slice(0, 50))).status, 204);
  });

  it('a YAML body whose aliases expand it past the body limit is refused (413) before anything reads it', async () => {
    const cert = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(40 * 1024)}\n-----END CERTIFICATE-----`;
    const body = `address: aliases.example.com\nca-cert: &c "${cert}"\nx: [${Array.from({ length: 10 }, () => '*c').join(', ')}]\n`;
    assert.ok(body.length < BODY_LIMIT);
    const res = await api.post(REGISTRIES, body, { contentType: 'application/yaml' });
    assert.equal(res.status, 413, res.text);
    assert.match(errorMessage(res), /expands to more than the limit of 65536 bytes \(YAML aliases\)/);
  });

  it('a merge patch that would grow the entry past the body limit is refused (413 naming BERTH_BODY_LIMIT)', async () => {
    // 500 credentials are about 36 KB: one patch of them fits the 64 KiB bound, two do not.
    const half = (from: number) => Array.from({ length: 500 }, (_, i) => ({ repository: `grow/app-${from + i}`, vault: 'kv', secret: `registries/grow-${from + i}` }));
    assert.equal((await api.patch(path, { credentials: half(0) })).status, 204);
    assertBound(await api.patch(path, { credentials: half(1000) }), 413, 'BERTH_BODY_LIMIT');
    assert.equal(((await api.get(path)).body as { credentials: unknown[] }).credentials.length, credentials.length + 500);
  });
});

describe('idle upload sessions', () => {
  let idleBerth: BerthProcess;
  after(async () => {
    if (!idleBerth) return;
    assert.equal(await idleBerth.stop(), 0);
    rmSync(idleBerth.dataDir, { recursive: true, force: true });
  });

  it('end on a timer (BERTH_UPLOAD_IDLE_TIMEOUT), with no other session starting and no garbage collection, and leave no bytes', async () => {
    idleBerth = await startBerth({ env: { BERTH_UPLOAD_IDLE_TIMEOUT: '1' } });
    const auth = { authorization: `Bearer ${idleBerth.adminToken}` };
    const locations: string[] = [];
    for (let i = 0; i < 3; i++) {
      const started = await fetch(`${idleBerth.url}/v2/idle/app/blobs/uploads/`, { method: 'POST', headers: auth });
      assert.equal(started.status, 202);
      const location = started.headers.get('location')!;
      const chunk = await fetch(`${idleBerth.url}${location}`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(4096, i) });
      assert.equal(chunk.status, 202);
      locations.push(location);
    }
    const uploads = join(idleBerth.dataDir, 'registry', 'uploads');
    const inFlight = async () => valueOf(parseSamples(await (await fetch(`${idleBerth.url}/metrics`, { headers: auth })).text()), 'berth_site_registry_uploads_in_flight');
    await eventually('idle sessions expired by themselves', async () => {
      const statuses = await Promise.all(locations.map(async (l) => (await fetch(`${idleBerth.url}${l}`, { headers: auth })).status));
      return statuses.every((s) => s === 404) && readdirSync(uploads).length === 0;
    });
    // The timer's expiries leave the uploads-in-flight gauge as a cancel does (metrics.test.ts: counted while open).
    assert.equal(await inFlight(), 0);
  });
});
