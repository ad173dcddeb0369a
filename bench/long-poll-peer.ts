// The peer of bench/fleet.bench.ts: a bare node:http server holding the change feed's streams (and long-polls) the way
// the tower does (same paths and answer shapes), from memory, with no auth, validation, logging, store or contact tracking; site
// reports are taken and dropped.
// `POST /bump` makes one change and sends it on every stream. It is the floor of delivering one change to N held
// connections on this machine. Prints its URL, serves until killed.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

let revision = 1;
let page = '';
const waiting = new Set<ServerResponse>();
const streams = new Set<ServerResponse>();

const answer = (res: ServerResponse, body: string) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};
const emptyPage = (after: number) => JSON.stringify({ revision: after, 'current-revision': revision, changes: [] });

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://peer');
  req.resume();
  if (req.method === 'POST' && url.pathname === '/bump') {
    revision++;
    const change = { revision, key: `config/image-registry/remote-registries/bump-${revision}.example.com`, type: 'put', value: { address: `bump-${revision}.example.com` }, at: new Date().toISOString() };
    page = JSON.stringify({ revision, 'current-revision': revision, changes: [change] });
    for (const held of waiting) answer(held, page);
    waiting.clear();
    for (const stream of streams) stream.write(`${page}\n`);
    return answer(res, JSON.stringify({ revision }));
  }
  if (url.pathname === '/v1/state/system/snapshot') return answer(res, JSON.stringify({ revision, entries: [] }));
  // Reports are taken and dropped.
  if (req.method === 'POST' && url.pathname === '/v1/state/system/site-report') return res.writeHead(204).end();
  if (url.pathname === '/v1/state/system/changes') {
    const after = Number(url.searchParams.get('after') ?? 0);
    const wait = Number(url.searchParams.get('wait') ?? 25) * 1000;
    if (req.headers.accept === 'application/x-ndjson') {
      // As the tower streams: a page at once, each change as it comes, an empty page every `wait`.
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' });
      res.write(`${after < revision && page ? page : emptyPage(revision)}\n`);
      streams.add(res);
      const heartbeat = setInterval(() => res.write(`${emptyPage(revision)}\n`), wait);
      res.once('close', () => {
        clearInterval(heartbeat);
        streams.delete(res);
      });
      return;
    }
    if (after < revision) return answer(res, page && after === revision - 1 ? page : emptyPage(revision));
    waiting.add(res);
    const timer = setTimeout(() => {
      if (waiting.delete(res)) answer(res, emptyPage(after));
    }, wait);
    res.once('close', () => {
      clearTimeout(timer);
      waiting.delete(res);
    });
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`peer listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => process.exit(0));
