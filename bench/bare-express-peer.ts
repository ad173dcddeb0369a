// The peer of bench/config-api.bench.ts: a bare Express 5 app in its own process answering the same JSON bodies
// Berth serves, from memory, with no auth, validation, logging or store. Prints its URL, serves until killed.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import express from 'express';

const bodiesFile = process.argv[2];
if (!bodiesFile) {
  process.stderr.write('usage: bare-express-peer.ts BODIES.json  (a JSON object {one, list})\n');
  process.exit(2);
}
const { one, list } = JSON.parse(readFileSync(bodiesFile, 'utf8')) as { one: unknown; list: unknown };

const app = express();
// Berth switches these off too; the comparison is about what Berth adds, not about Express defaults.
app.disable('x-powered-by');
app.set('etag', false);
// res.json serialises on every request, as Berth does with what it reads from its store.
app.get('/one', (_req, res) => res.json(one));
app.get('/list', (_req, res) => res.json(list));

const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`peer listening on http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
