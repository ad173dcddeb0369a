// `?site=` forwarding and the change feed in detail: a site behind HTTPS checked against its configured CA (and
// refused with another CA), a site following an HTTPS tower with BERTH_TOWER_CACERT, request bodies and roles on
// the way through, the sites list's validation, what the feed carries (never tokens or the sites list), the
// site-bound tokens sites follow the tower with, and http:// between tower and sites only when allowed.
import assert from 'node:assert/strict';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Api, errorMessage, type ApiResponse } from '../helpers/api.js';
import { startBerth } from '../helpers/berth.js';
import { converged, SITE_TOKENS_MOUNT, startSite, startTower, type RunningSite, type RunningTower } from '../helpers/berth-site.js';
import { eventually } from '../helpers/eventually.js';
import { closeAll } from '../helpers/close-all.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { freePort } from '../helpers/free-port.js';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from '../helpers/tls.js';

const REGISTRIES = '/v1/config/image-registry/remote-registries';
const REGISTRY_STATES = '/v1/state/image-registry/remote-registries';
const FEED = '/v1/state/system/changes';

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let tower: RunningTower;
let edge: RunningSite;
let secure: RunningSite;
/** HTTPS (test CA) in front of site `edge`, and in front of the tower. */
let edgeTls: string;
let towerTls: string;
const servers: Server[] = [];

const inspect = (method: string, path: string, res: ApiResponse) => assertMatchesContract(method, path, res);

/** An HTTPS server with a certificate from `ca` passing every request on to the plain-HTTP Berth at `target`. */
async function tlsFront(target: () => string, name: string): Promise<string> {
  const cert = issueServerCertificate(ca, name);
  const server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    const upstream = httpRequest(`${target()}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  ca = createCertificateAuthority('Berth Sites Forwarding CA');
  otherCa = createCertificateAuthority('Some Other CA');
  tower = await startTower({ inspect });
  towerTls = await tlsFront(() => tower.berth.url, 'tower');
  edge = await startSite(tower, 'edge', { inspect });
  edgeTls = await tlsFront(() => edge.url, 'edge');
  // Follows the tower through HTTPS, trusting only the test CA; registered at the tower like any site.
  secure = await startSite(tower, 'secure', { inspect, env: { BERTH_TOWER_URL: towerTls, BERTH_TOWER_CACERT: ca.certPath } });
});

after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  try {
    await closeAll([() => edge?.close(), () => secure?.close(), () => tower?.close()]);
  } finally {
    for (const authority of [ca, otherCa]) if (authority) rmSync(authority.dir, { recursive: true, force: true });
  }
});

describe('sites over TLS', () => {
  it('a site following an https tower (BERTH_TOWER_CACERT) replicates its configuration', async () => {
    const created = await tower.api.post(REGISTRIES, { address: 'tls.example.com' });
    assert.equal(created.status, 201, created.text);
    await converged(tower, secure);
    assert.deepEqual((await secure.api.get(`${REGISTRIES}?keys=true`)).body, ['tls.example.com']);
  });

  it('forwards to an https site checked against the site\'s ca-cert, and refuses it under another CA', async () => {
    const patched = await tower.api.patch('/v1/config/sites/edge', { 'api-url': edgeTls, 'ca-cert': ca.certPem });
    assert.equal(patched.status, 204, patched.text);
    const forwarded = await tower.api.get(`${REGISTRY_STATES}?site=edge&keys=true`);
    assert.equal(forwarded.status, 200, forwarded.text);
    assert.deepEqual(forwarded.body, ['tls.example.com']);

    assert.equal((await tower.api.patch('/v1/config/sites/edge', { 'ca-cert': otherCa.certPem })).status, 204);
    const refused = await tower.api.get(`${REGISTRY_STATES}?site=edge`);
    assert.equal(refused.status, 503, refused.text);
    assert.match(errorMessage(refused), /site 'edge' .*TLS/);
    // Without a ca-cert the system roots apply, which do not know the test CA either.
    assert.equal((await tower.api.patch('/v1/config/sites/edge', { 'ca-cert': null })).status, 204);
    assert.equal((await tower.api.get(`${REGISTRY_STATES}?site=edge`)).status, 503);
    assert.equal((await tower.api.patch('/v1/config/sites/edge', { 'api-url': edge.url })).status, 204);
  });
});

describe('forwarding', () => {
  it('streams a YAML body to the site and hands its answer back', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    assert.equal((await tower.api.post(REGISTRIES, { address: closed })).status, 201);
    await converged(tower, edge);
    const res = await tower.api.post(`${REGISTRY_STATES}/${closed}/verify-credentials?site=edge`, 'image: some/app:v1\n', {
      contentType: 'application/yaml',
      accept: 'application/yaml',
    });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.equal((res.body as { success: boolean; 'error-type': string })['error-type'], 'connect');
    // The outcome is the site's: its state has it, the tower's does not.
    const atEdge = await edge.api.get(`${REGISTRY_STATES}/${closed}?fields=last-verification(image)`);
    assert.deepEqual(atEdge.body, { 'last-verification': { image: 'some/app:v1' } });
    assert.deepEqual((await tower.api.get(`${REGISTRY_STATES}/${closed}?fields=last-verification`)).body, {});
  });

  it('the caller\'s role is checked at the tower before anything is forwarded', async () => {
    const token = async (name: string, role: string) => (await tower.api.post('/v1/config/system/tokens', { name, role })).body as { token: string };
    const reader = tower.api.withToken((await token('forward-reader', 'read')).token);
    const operator = tower.api.withToken((await token('forward-operator', 'operator')).token);
    assert.equal((await reader.get(`${REGISTRY_STATES}?site=edge&count=true`)).status, 200);
    const denied = await reader.post(`${REGISTRY_STATES}/tls.example.com/list-repositories?site=edge`, {});
    assert.equal(denied.status, 403, denied.text);
    assert.match(errorMessage(denied), /role 'read'/);
    const allowed = await operator.post(`${REGISTRY_STATES}/tls.example.com/verify-credentials?site=edge`, {});
    assert.equal(allowed.status, 200, allowed.text);
  });

  it('an answer the site breaks off is a 503 when nothing was sent yet, and cut short when its start was', async () => {
    // A "site" that announces a body and closes the connection a few bytes into it.
    const cert = issueServerCertificate(ca, 'breaks-off');
    let announced = 0;
    const breaksOff = createServer({ key: cert.keyPem, cert: cert.certPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(announced) });
      res.write('["half', () => res.socket?.destroy());
    });
    servers.push(breaksOff);
    await new Promise<void>((resolve) => breaksOff.listen(0, '127.0.0.1', () => resolve()));
    const url = `https://127.0.0.1:${(breaksOff.address() as AddressInfo).port}`;
    assert.equal((await tower.api.patch('/v1/config/sites/edge', { 'api-url': url, 'ca-cert': ca.certPem })).status, 204);
    try {
      // Small enough to be gathered before anything goes to the client.
      announced = 1000;
      const small = await tower.api.get(`${REGISTRY_STATES}?site=edge`);
      assert.equal(small.status, 503, small.text);
      assert.match(errorMessage(small), /site 'edge' broke off its answer/);
      assert.equal(small.headers.get('retry-after'), '5');
      // Too large to gather: its status line is out before the break, and the client sees the body cut short.
      announced = 4 * 1024 * 1024;
      const large = await fetch(`${tower.berth.url}${REGISTRY_STATES}?site=edge`, { headers: { authorization: `Bearer ${tower.berth.adminToken}` } });
      assert.equal(large.status, 200);
      await assert.rejects(large.arrayBuffer());
    } finally {
      assert.equal((await tower.api.patch('/v1/config/sites/edge', { 'api-url': edge.url, 'ca-cert': null })).status, 204);
    }
  });

  it('site is not a parameter of configuration; a malformed site name is a 400', async () => {
    assert.equal((await tower.api.get(`${REGISTRIES}?site=edge`)).status, 400);
    assert.equal((await tower.api.get(`${REGISTRY_STATES}?site=Not_A_Name`)).status, 400);
  });
});

describe('plain GETs with ?site=, carried out before Express (src/http/plain-reads.ts)', () => {
  /** Headers that differ from one answer to the next whoever gives it. */
  const PER_ANSWER = new Set(['date', 'x-request-id', 'keep-alive', 'connection']);
  const lasting = (headers: Headers) => [...headers].filter(([name]) => !PER_ANSWER.has(name));

  /** The same GET as a plain request and with an Accept only Express negotiates (sent on to the site as it is). */
  async function bothWays(path: string, api: Api = tower.api): Promise<ApiResponse> {
    const plain = await api.get(path);
    const negotiated = await api.get(path, { accept: 'application/json;q=1' });
    assert.equal(plain.status, negotiated.status, `${path}: ${plain.text}`);
    assert.deepEqual(lasting(plain.headers), lasting(negotiated.headers), path);
    assert.equal(plain.text, negotiated.text, path);
    return plain;
  }

  it('answers as the Express path does: the site\'s answers, an unknown site, a site that does not answer', async () => {
    assert.equal((await bothWays(`${REGISTRY_STATES}?site=edge`)).status, 200);
    assert.equal((await bothWays(`${REGISTRY_STATES}/missing.example.com?site=edge`)).status, 404);
    // A repository name with plain slashes goes to the site in the contract's form (`team%2Fapp`) either way (a path
    // the contract check of these tests' client does not take).
    const repository = await bothWays('/v1/state/image-registry/repositories/team/app?site=edge', new Api(tower.berth.url, tower.berth.adminToken));
    assert.equal(repository.status, 404, repository.text);
    assert.match(errorMessage(repository), /team\/app/);
    const unknown = await bothWays(`${REGISTRY_STATES}?site=nowhere`);
    assert.equal(unknown.status, 404);
    assert.match(errorMessage(unknown), /unknown site 'nowhere'/);
    const closed = `http://127.0.0.1:${await freePort()}`;
    assert.equal((await tower.api.put('/v1/config/sites/gone', { name: 'gone', 'api-url': closed, vault: SITE_TOKENS_MOUNT, secret: 'edge' })).status, 201);
    try {
      const gone = await bothWays(`${REGISTRY_STATES}?site=gone`);
      assert.equal(gone.status, 503, gone.text);
      assert.equal(gone.headers.get('retry-after'), '5');
      assert.match(errorMessage(gone), /site 'gone' at http:\/\/127\.0\.0\.1:\d+ is unreachable: connection refused/);
    } finally {
      assert.equal((await tower.api.delete('/v1/config/sites/gone')).status, 204);
    }
  });

  it('logs and counts a plain forwarded GET as it does one Express carried out', async () => {
    const metric = async (pattern: RegExp) => {
      const text = await (await fetch(`${tower.berth.url}/metrics`, { headers: { authorization: `Bearer ${tower.berth.adminToken}` } })).text();
      return Number(text.match(pattern)?.[1] ?? 0);
    };
    const forwarded = /berth_site_forwarded_requests_total\{site="edge",status="200"\} (\d+)/;
    const routed = /berth_http_requests_total\{route="\/v1\/state\/image-registry\/remote-registries",method="GET",status="200"\} (\d+)/;
    const before = [await metric(forwarded), await metric(routed)];
    assert.equal((await tower.api.get(`${REGISTRY_STATES}?site=edge`)).status, 200);
    assert.deepEqual([await metric(forwarded), await metric(routed)], [before[0]! + 1, before[1]! + 1]);
    // The tower logs at warn here: a 404 of an unknown site has its line.
    const id = `plain-forward-${Date.now()}`;
    assert.equal((await tower.api.get(`${REGISTRY_STATES}?site=nowhere`, { headers: { 'x-request-id': id } })).status, 404);
    await eventually('the plain forwarded GET logged', async () => tower.berth.output().includes(`"id":"${id}"`));
    const line = JSON.parse(tower.berth.output().split('\n').find((l) => l.includes(`"id":"${id}"`))!) as Record<string, unknown>;
    assert.deepEqual(line.req, { id, method: 'GET', url: `${REGISTRY_STATES}?site=nowhere`, remoteAddress: '127.0.0.1' });
    assert.deepEqual(line.res, { statusCode: 404 });
  });
});

describe('the sites list', () => {
  it('validates a site as a whole and answers the conventions of every list', async () => {
    const bad = [
      [{ name: 'x', 'api-url': 'http://h.example.com/?q=1', vault: 'v', secret: 's' }, /api-url/],
      [{ name: 'x', 'api-url': 'ftp://h.example.com', vault: 'v', secret: 's' }, /api-url/],
      [{ name: 'x', 'api-url': 'http://h.example.com', 'ca-cert': ca.certPem, vault: 'v', secret: 's' }, /ca-cert: applies only to an https/],
      [{ name: 'control-tower', 'api-url': 'http://h.example.com', vault: 'v', secret: 's' }, /name of this Berth itself/],
      [{ name: 'x', 'api-url': 'http://h.example.com', vault: 'v' }, /secret/],
    ] as const;
    for (const [body, message] of bad) {
      const res = await tower.api.post('/v1/config/sites', body);
      assert.equal(res.status, 400, res.text);
      assert.match(errorMessage(res), message);
    }
    const sample = 'name: store-42\napi-url: https://store-42.example.com:4646\nvault: sites\nsecret: store-42\n';
    const created = await tower.api.post('/v1/config/sites', sample, { contentType: 'application/yaml' });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers.get('location'), '/v1/config/sites/store-42');
    assert.equal((await tower.api.post('/v1/config/sites', sample, { contentType: 'application/yaml' })).status, 409);
    assert.deepEqual((await tower.api.get('/v1/config/sites?keys=true')).body, ['edge', 'secure', 'store-42']);
    const state = await tower.api.get('/v1/state/sites/store-42?content=nonconfig');
    assert.deepEqual(state.body, { name: 'store-42', connected: false });
    assert.equal((await tower.api.delete('/v1/config/sites/store-42')).status, 204);
    assert.equal((await tower.api.get('/v1/state/sites/store-42')).status, 404);
  });
});

describe('the change feed', () => {
  type Page = { revision: number; 'current-revision': number; changes: { key: string; type: string; revision: number }[] };

  it('carries only the replicated configuration: never tokens or the sites list', async () => {
    const res = await tower.api.get(`${FEED}?after=0&wait=0`);
    assert.equal(res.status, 200, res.text);
    const page = res.body as Page;
    assert.ok(page.changes.length > 0, 'the feed has the registries written so far');
    for (const change of page.changes) assert.match(change.key, /^config\/image-registry\//);
    assert.equal(page.revision, page['current-revision'], 'one page holds the whole short history');
    const snapshot = (await tower.api.get('/v1/state/system/snapshot')).body as { revision: number; entries: { key: string }[] };
    assert.ok(snapshot.entries.every((e) => e.key.startsWith('config/image-registry/')), `snapshot keys: ${snapshot.entries.map((e) => e.key).join(', ')}`);
  });

  it('pages with limit, and answers at once when nothing is new and wait=0', async () => {
    const first = (await tower.api.get(`${FEED}?after=0&limit=1&wait=0`)).body as Page;
    assert.equal(first.revision, 1);
    assert.ok(first.revision < first['current-revision'], `page ends at ${first.revision} of ${first['current-revision']}`);
    const current = first['current-revision'];
    const idle = (await tower.api.get(`${FEED}?after=${current}&wait=0`)).body as Page;
    assert.deepEqual(idle, { revision: current, 'current-revision': current, changes: [] });
  });

  it('a long-poll answers as soon as a replicated change is committed', async () => {
    const current = ((await tower.api.get(`${FEED}?after=0&limit=1&wait=0`)).body as Page)['current-revision'];
    const waiting = tower.api.get(`${FEED}?after=${current}&wait=60`);
    assert.equal((await tower.api.post(REGISTRIES, { address: 'long-poll.example.com' })).status, 201);
    const page = (await waiting).body as Page;
    assert.deepEqual(page.changes.map((c) => [c.type, c.key]), [['put', 'config/image-registry/remote-registries/long-poll.example.com']]);
    assert.equal(page.revision, current + 1);
  });

  it('a site ahead of the tower (a tower restored from an older copy) gets the tower\'s lower revision at once', async () => {
    const page = (await tower.api.get(`${FEED}?after=999999&wait=60`)).body as Page;
    assert.ok(page['current-revision'] < 999999, `current-revision ${page['current-revision']}`);
    assert.deepEqual(page.changes, []);
  });

  it('records the contact of the site whose token reads it; a site token of no configured site records nothing', async () => {
    const edgeState = (await tower.api.get('/v1/state/sites/edge?fields=connected')).body;
    assert.deepEqual(edgeState, { connected: true });
    const nobody = (await tower.api.post('/v1/config/system/tokens', { name: 'site-nobody', role: 'site', site: 'nobody' })).body as { token: string };
    assert.equal((await tower.api.withToken(nobody.token).get(`${FEED}?after=0&wait=0&site-name=nobody`)).status, 200);
    assert.deepEqual((await tower.api.get('/v1/state/sites?keys=true')).body, ['edge', 'secure']);
    assert.equal((await tower.api.get('/v1/state/sites/nobody')).status, 404);
  });
});

describe('site-bound tokens', () => {
  /** A site that is registered but never runs: nothing but a forged call could make it look connected. */
  const GHOST = { name: 'ghost', 'api-url': 'http://127.0.0.1:9', vault: 'site-tokens', secret: 'ghost' };

  before(async () => {
    assert.equal((await tower.api.put('/v1/config/sites/ghost', GHOST)).status, 201);
  });

  it('a site token reads the feed and the snapshot as its own site, and nothing else', async () => {
    const asEdge = tower.api.withToken(edge.towerToken);
    for (const path of [`${FEED}?after=0&wait=0`, `${FEED}?after=0&wait=0&site-name=edge`, '/v1/state/system/snapshot', '/v1/state/system/snapshot?site-name=edge']) {
      const res = await asEdge.get(path);
      assert.equal(res.status, 200, `${path}: ${res.text}`);
    }
    const refused = [
      `${FEED}?after=0&wait=0&site-name=ghost`, '/v1/state/system/snapshot?site-name=secure', `${FEED}?after=0&wait=0&site=secure`,
      `${FEED}?after=0&wait=0&site=edge`, '/v1/state/system/snapshot?site=control-tower', `${REGISTRY_STATES}?site=secure`, REGISTRY_STATES, REGISTRIES,
      '/v1/state/sites', '/v1/config/sites', '/v1/state/system/replication', '/v1/config/system/tokens', '/v1/state/image-registry/repositories',
    ];
    for (const path of refused) {
      const res = await asEdge.get(path);
      assert.equal(res.status, 403, `${path}: ${res.text}`);
    }
    assert.equal((await asEdge.post('/v1/state/image-registry/garbage-collect?site=edge', {})).status, 403);
    assert.equal((await asEdge.post(REGISTRIES, { address: 'by-a-site.example.com' })).status, 403);
    assert.match(errorMessage(await asEdge.get(`${FEED}?site-name=ghost`)), /bound to site 'edge', not 'ghost'/);
  });

  it('no other token can make a site look connected: site-name is refused from every other role', async () => {
    const reader = tower.api.withToken(((await tower.api.post('/v1/config/system/tokens', { name: 'feed-reader', role: 'read' })).body as { token: string }).token);
    const operator = tower.api.withToken(((await tower.api.post('/v1/config/system/tokens', { name: 'feed-operator', role: 'operator' })).body as { token: string }).token);
    for (const api of [reader, operator, tower.api]) {
      for (const path of [`${FEED}?after=0&wait=0&site-name=ghost`, '/v1/state/system/snapshot?site-name=ghost']) {
        const res = await api.get(path);
        assert.equal(res.status, 403, `${path}: ${res.text}`);
        assert.match(errorMessage(res), /site-name: only a site's own token/);
      }
      // Without site-name they read the feed like any state, and record nothing.
      assert.equal((await api.get(`${FEED}?after=0&wait=0`)).status, 200);
    }
    assert.deepEqual((await tower.api.get('/v1/state/sites/ghost?content=nonconfig')).body, { name: 'ghost', connected: false });
  });

  it('a token for a site is made with its site, and only a site token has one', async () => {
    const tokens = '/v1/config/system/tokens';
    const noSite = await tower.api.post(tokens, { name: 'half-a-site', role: 'site' });
    assert.equal(noSite.status, 400, noSite.text);
    assert.match(errorMessage(noSite), /^site: required with role 'site'/);
    assert.equal((await tower.api.post(tokens, { name: 'reader-of-a-site', role: 'read', site: 'edge' })).status, 400);
    assert.equal((await tower.api.post(tokens, { name: 'bad-site-name', role: 'site', site: 'Not_A_Site' })).status, 400);
    const listed = (await tower.api.get(`${tokens}/site-edge`)).body;
    assert.deepEqual({ ...(listed as object), created: undefined }, { name: 'site-edge', role: 'site', site: 'edge', created: undefined });
  });
});

describe('clear text between tower and sites', () => {
  it('http:// api-urls are refused unless BERTH_SITES_ALLOW_HTTP=true, and a stored one gets no token', async () => {
    // A "site" that counts what reaches it: the tower must never send it anything, its token least of all.
    let received = 0;
    const listener = createHttpServer((_req, res) => {
      received++;
      res.end();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
    const port = (listener.address() as AddressInfo).port;
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-cleartext-'));
    const adminToken = 'cleartext-admin-token-0123456789';
    const site = { name: 'plain', 'api-url': `http://127.0.0.1:${port}`, vault: 'site-tokens', secret: 'plain' };
    try {
      let berth = await startBerth({ dataDir, adminToken, env: { BERTH_SITES_ALLOW_HTTP: 'true' } });
      assert.equal((await new Api(berth.url, adminToken).put('/v1/config/sites/plain', site)).status, 201);
      await berth.stop();
      berth = await startBerth({ dataDir, adminToken });
      try {
        const api = new Api(berth.url, adminToken);
        const refused = await api.put('/v1/config/sites/other', { ...site, name: 'other' });
        assert.equal(refused.status, 400, refused.text);
        assert.match(errorMessage(refused), /^api-url: must be an https:\/\/ URL: the tower's token for the site would travel in clear/);
        assert.equal((await api.put('/v1/config/sites/other', { ...site, name: 'other', 'api-url': 'https://other.example.com' })).status, 201);
        const forwarded = await api.get('/v1/state/image-registry/repositories?site=plain');
        assert.equal(forwarded.status, 503, forwarded.text);
        assert.match(errorMessage(forwarded), /site 'plain' .*http:\/\/ .*BERTH_SITES_ALLOW_HTTP/);
        assert.equal(received, 0);
      } finally {
        await berth.stop();
      }
    } finally {
      listener.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
