// PlainReads (src/http/plain-reads.ts) on a real HTTP server, store and token registry: which requests it answers
// itself, what that answer is, and that it hands every other request on with nothing written. Behind it here stands
// a stand-in for Express that answers 599, so each test sees which of the two answered. Its `?site=` GETs go to a
// real SiteForwarder whose tower has no secret store: each one it carries out answers the 503 of a token it cannot
// read (or the 404 of an unknown site), never 599. That Berth's two paths give the same answers is checked on a
// started Berth (test/integration/plain-reads.test.ts, test/integration/sites-forwarding.test.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { contract } from '../../src/contract/openapi.js';
import { operationTable } from '../../src/http/path-grammar.js';
import { PlainReads } from '../../src/http/plain-reads.js';
import { SqliteConfigStore } from '../../src/store/sqlite.js';
import { ConfigList } from '../../src/config/config-list.js';
import { REMOTE_REGISTRIES_PREFIX, remoteRegistrySpec } from '../../src/image-registry/remote-registry.js';
import { TokenRegistry } from '../../src/auth/tokens.js';
import { createLogger } from '../../src/logger.js';
import { SiteConnections } from '../../src/sites/site-connections.js';
import { SiteForwarder } from '../../src/sites/site-forwarding.js';
import { siteSpec } from '../../src/sites/site.js';

const LIST = '/v1/config/image-registry/remote-registries';
const STATES = '/v1/state/image-registry/remote-registries';
const OWN_NAME = 'control-tower';
const ADMIN = 'plain-reads-admin-token-0123456789';
const HANDED_ON = 599;
const OVERLONG = `${'a'.repeat(250)}.example.com`;

let dir: string;
let store: SqliteConfigStore;
let tokens: TokenRegistry;
let server: Server;
let port: number;
let siteToken: string;
let readToken: string;
let revision: number;
let connections: SiteConnections;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-plain-reads-'));
  store = new SqliteConfigStore(dir);
  ({ tokens } = await TokenRegistry.open(store, ADMIN));
  readToken = (await tokens.create({ name: 'reader', role: 'read' })).token;
  siteToken = (await tokens.create({ name: 'edge', role: 'site', site: 'edge-1' })).token;
  const registries = new ConfigList(store, remoteRegistrySpec);
  revision = (await registries.create({ address: 'registry.example.com:5000', credentials: [{ repository: '*', vault: 'kv', secret: 's' }] })).revision!;
  // An entry under a key the contract's path parameter refuses, written past the checks: only the contract check keeps
  // a plain read from answering it.
  await store.put(`${REMOTE_REGISTRIES_PREFIX}${OVERLONG}`, { address: OVERLONG });
  const plain = new PlainReads({ resolve: operationTable(contract), authenticator: tokens, logger: createLogger('silent') });
  plain.add(LIST, registries);
  // A site of this tower; the tower has no secret store to read its token for the site from.
  const sites = new ConfigList(store, siteSpec(OWN_NAME, true));
  await sites.create({ name: 'edge-1', 'api-url': 'http://127.0.0.1:9', vault: 'kv', secret: 'sites/edge-1' });
  connections = new SiteConnections(sites, undefined, true);
  plain.forwardWith(new SiteForwarder(OWN_NAME, connections));
  const handOn = (res: import('node:http').ServerResponse) => res.writeHead(HANDED_ON).end();
  server = createServer((req, res) => {
    if (!plain.accepts(req)) return handOn(res);
    // Berth's request log gives every request its id before this.
    void plain.answer(Object.assign(req, { id: 'plain-reads-test' }), res).then((answered) => answered || handOn(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await connections.close();
  tokens.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One request by node:http with the path as written (no URL normalization) and exactly the headers given. */
function send(path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers: { authorization: `Bearer ${ADMIN}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('PlainReads', () => {
  it('answers a plain GET of an entry itself: 200, its ETag, JSON of the stored entry', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const res = await send(`${LIST}/registry.example.com:5000`, accept ? { accept } : {});
      assert.equal(res.status, 200, `Accept ${accept}: ${res.text}`);
      assert.equal(res.headers.etag, `"${revision}"`);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(JSON.parse(res.text), { address: 'registry.example.com:5000', credentials: [{ repository: '*', vault: 'kv', secret: 's' }] });
    }
    assert.equal((await send(`${LIST}/registry.example.com:5000`, { authorization: `Bearer ${readToken}` })).status, 200, 'role read');
  });

  // Headers are made when the test runs: the tokens exist only once `before` has run.
  const handedOn: [string, string, (() => Record<string, string>)?, string?][] = [
    ['a query', `${LIST}/registry.example.com:5000?fields=address`],
    ['an empty query', `${LIST}/registry.example.com:5000?`],
    ['`?site=` on an operation that does not take it', `${LIST}/registry.example.com:5000?site=edge-1`],
    ['an Accept of YAML', `${LIST}/registry.example.com:5000`, () => ({ accept: 'application/yaml' })],
    ['an Accept with q-values', `${LIST}/registry.example.com:5000`, () => ({ accept: 'application/json;q=0.9' })],
    ['If-None-Match', `${LIST}/registry.example.com:5000`, () => ({ 'if-none-match': `"${revision}"` })],
    ['If-Match', `${LIST}/registry.example.com:5000`, () => ({ 'if-match': '"1"' })],
    ['If-Modified-Since', `${LIST}/registry.example.com:5000`, () => ({ 'if-modified-since': 'Mon, 30 Nov 2026 00:00:00 GMT' })],
    ['a body', `${LIST}/registry.example.com:5000`, () => ({ 'content-type': 'application/json' }), '{}'],
    ['a percent-encoded key', `${LIST}/registry.example.com%3A5000`],
    ['an empty segment', `/v1/config/image-registry//remote-registries/registry.example.com:5000`],
    ['a dot segment', `${LIST}/../remote-registries/registry.example.com:5000`],
    ['a trailing slash', `${LIST}/registry.example.com:5000/`],
    ['another case', `/v1/config/image-registry/Remote-Registries/registry.example.com:5000`],
    ['the list itself (no plain read registered)', LIST],
    ['a path outside /v1', '/healthz'],
    ['no token', `${LIST}/registry.example.com:5000`, () => ({ authorization: '' })],
    ['an unknown token', `${LIST}/registry.example.com:5000`, () => ({ authorization: 'Bearer not-a-token-of-this-berth' })],
    ["a role that may not read it (site)", `${LIST}/registry.example.com:5000`, () => ({ authorization: `Bearer ${siteToken}` })],
    ['no such entry', `${LIST}/missing.example.com`],
    ['a key the contract refuses', `${LIST}/${OVERLONG}`],
  ];
  for (const [what, path, headers, body] of handedOn) {
    it(`hands on, with nothing written: ${what}`, async () => {
      const res = await send(path, headers?.(), body);
      assert.equal(res.status, HANDED_ON, `${path}: ${res.status} ${res.text}`);
      assert.equal(res.text, '');
      assert.equal(res.headers.etag, undefined);
    });
  }

  it('carries a plain GET with `?site=` out at the site itself, its failure answered with the error body', async () => {
    for (const path of [`${STATES}?site=edge-1`, `${STATES}/registry.example.com:5000?site=edge-1`, '/v1/state/image-registry/repositories/team/app?site=edge-1']) {
      const res = await send(path);
      assert.equal(res.status, 503, `${path}: ${res.text}`);
      assert.equal(res.headers['retry-after'], '5');
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      const body = JSON.parse(res.text) as { errors: { 'error-message': string; 'error-info': Record<string, unknown> }[] };
      assert.match(body.errors[0]!['error-message'], /^site 'edge-1' at http:\/\/127\.0\.0\.1:9 is unreachable: the tower has no secret store/);
      assert.deepEqual(body.errors[0]!['error-info'], { site: 'edge-1', kind: 'no-secret-store' });
    }
    const reader = await send(`${STATES}?site=edge-1`, { authorization: `Bearer ${readToken}` });
    assert.equal(reader.status, 503, `role read: ${reader.text}`);
    const unknown = await send(`${STATES}?site=nowhere`);
    assert.equal(unknown.status, 404, unknown.text);
    assert.match(unknown.text, /unknown site 'nowhere'/);
  });

  const notForwarded: [string, string, (() => Record<string, string>)?][] = [
    ['a site naming this Berth (served here)', `${STATES}?site=${OWN_NAME}`],
    ['another parameter after it', `${STATES}?site=edge-1&count=true`],
    ['another parameter before it', `${STATES}?count=true&site=edge-1`],
    ['`site` twice', `${STATES}?site=edge-1&site=edge-1`],
    ['`sites=`', `${STATES}?sites=name%3Dedge-1`],
    ['an empty site', `${STATES}?site=`],
    ['a site name in capitals', `${STATES}?site=EDGE-1`],
    ['a site name the contract refuses', `${STATES}?site=-edge`],
    ['a site name longer than 63', `${STATES}?site=${'e'.repeat(64)}`],
    ['a percent-encoded site name', `${STATES}?site=%65dge-1`],
    ['an Accept of YAML', `${STATES}?site=edge-1`, () => ({ accept: 'application/yaml' })],
    ['If-None-Match', `${STATES}?site=edge-1`, () => ({ 'if-none-match': '"1"' })],
    ['a trailing slash', `${STATES}/?site=edge-1`],
    ['no token', `${STATES}?site=edge-1`, () => ({ authorization: '' })],
    ['a site token: it reads the change feed at its tower only', '/v1/state/system/changes?site=edge-1', () => ({ authorization: `Bearer ${siteToken}` })],
    ['an operation with no GET', `${STATES}/registry.example.com:5000/pull?site=edge-1`],
  ];
  for (const [what, path, headers] of notForwarded) {
    it(`does not carry out at a site, and hands on with nothing written: ${what}`, async () => {
      const res = await send(path, headers?.());
      assert.equal(res.status, HANDED_ON, `${path}: ${res.status} ${res.text}`);
      assert.equal(res.text, '');
    });
  }

  it('refuses at start a list path the contract has no GET of one entry for', () => {
    const plain = new PlainReads({ resolve: operationTable(contract), authenticator: tokens, logger: createLogger('silent') });
    const registries = new ConfigList(store, remoteRegistrySpec);
    assert.throws(() => plain.add('/v1/config/image-registry/remote-registry', registries), /no GET/);
    assert.throws(() => plain.add('/v1/config/no-such-list', registries), /no GET/);
  });
});
