// The service around the API: tokens as a resource, the generated admin token, health and readiness, the served
// contract, request ids, log redaction, settings errors, and a SIGTERM that drains in-flight requests.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { cleanEnv, exitOf, spawnBerth, startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api, errorMessage } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';

const TOKENS = '/v1/config/system/tokens';

describe('tokens', () => {
  let berth: BerthProcess;
  let api: Api;
  before(async () => {
    berth = await startBerth();
    api = new Api(berth.url, berth.adminToken, assertMatchesContract);
  });
  after(() => berth.stop());

  it('creating answers the token once; reads list names, roles and times, never tokens', async () => {
    const created = await api.post(TOKENS, 'name: ci-reader\nrole: read\n', { contentType: 'application/yaml' });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), `${TOKENS}/ci-reader`);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const { token, name, role, created: at } = created.body as Record<string, string>;
    assert.equal(name, 'ci-reader');
    assert.equal(role, 'read');
    assert.match(token!, /^berth_[A-Za-z0-9_-]{43}$/);
    assert.ok(Date.parse(at!) > 0);

    const list = await api.get(TOKENS);
    assert.ok(!list.text.includes(token!));
    assert.deepEqual((list.body as { name: string }[]).find((t) => t.name === 'ci-reader'), { name: 'ci-reader', role: 'read', created: at });
    const one = await api.get(`${TOKENS}/ci-reader`);
    assert.deepEqual(one.body, { name: 'ci-reader', role: 'read', created: at });
    assert.deepEqual((await api.get(`${TOKENS}?keys=true`)).body, (list.body as { name: string }[]).map((t) => t.name));

    const as = api.withToken(token!);
    assert.equal((await as.get('/v1/config/image-registry/remote-registries')).status, 200);
    assert.equal((await api.post(TOKENS, { name: 'ci-reader', role: 'admin' })).status, 409);
    assert.equal((await api.post(TOKENS, { name: 'x', role: 'superuser' })).status, 400);
    assert.equal((await api.post(TOKENS, { name: 'Bad Name', role: 'read' })).status, 400);
  });

  it('deleting a token revokes it at once', async () => {
    const { token } = (await api.post(TOKENS, { name: 'short-lived', role: 'operator' })).body as { token: string };
    const as = api.withToken(token);
    assert.equal((await as.get('/v1/config/image-registry/remote-registries')).status, 200);
    assert.equal((await api.delete(`${TOKENS}/short-lived?validate=true`)).status, 204);
    assert.equal((await as.get('/v1/config/image-registry/remote-registries')).status, 200);
    assert.equal((await api.delete(`${TOKENS}/short-lived`)).status, 204);
    const after = await as.get('/v1/config/image-registry/remote-registries');
    assert.equal(after.status, 401);
    assert.equal((await api.delete(`${TOKENS}/short-lived`)).status, 404);
  });

  it('the store holds token hashes, never tokens', async () => {
    const { token } = (await api.post(TOKENS, { name: 'hashed', role: 'read' })).body as { token: string };
    const files = readdirSync(berth.dataDir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    assert.ok(files.some((f) => f.name === 'config.db'));
    for (const file of files) {
      const bytes = readFileSync(join(file.parentPath, file.name));
      assert.ok(!bytes.includes(token), `${file.name} contains the token`);
    }
  });
});

describe('the generated admin token', () => {
  it('is printed once at first start, works, and is not printed again', async (t) => {
    const first = await startBerth({ adminToken: null });
    t.after(() => first.kill());
    const token = first.adminToken;
    assert.match(token, /^berth_/);
    const api = new Api(first.url, token);
    assert.equal((await api.get(TOKENS)).status, 200);
    assert.deepEqual(((await api.get(TOKENS)).body as { name: string; role: string }[]).map((t) => [t.name, t.role]), [['admin', 'admin']]);
    // The log lines (JSON) never carry it; only the banner line does.
    const logLines = first.output().split('\n').filter((l) => l.startsWith('{'));
    assert.ok(logLines.every((l) => !l.includes(token)));
    assert.equal(await first.stop(), 0);

    const second = await startBerth({ adminToken: null, dataDir: first.dataDir });
    t.after(() => second.kill());
    assert.ok(!second.output().includes('generated admin token'));
    assert.equal((await new Api(second.url, token).get(TOKENS)).status, 200);
    assert.equal(await second.stop(), 0);
  });
});

describe('the service', () => {
  let berth: BerthProcess;
  before(async () => {
    berth = await startBerth();
  });
  after(() => berth.stop());

  it('/healthz and /readyz answer without a token', async () => {
    const health = await fetch(`${berth.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${berth.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { checks: { store: string } }).checks.store, 'ok');
  });

  it('serves the contract as YAML and JSON', async () => {
    const asYaml = yaml.load(await (await fetch(`${berth.url}/openapi.yaml`)).text()) as { openapi: string; paths: object };
    const asJson = (await (await fetch(`${berth.url}/openapi.json`)).json()) as { openapi: string; paths: object };
    assert.equal(asYaml.openapi, '3.1.0');
    assert.deepEqual(asJson, asYaml);
    assert.ok('/v1/config/image-registry/remote-registries/{remote-registry-address}' in asJson.paths);
  });

  it('honours and echoes X-Request-Id, and logs one line per request with it and without the token', async () => {
    const res = await fetch(`${berth.url}/v1/config/image-registry/remote-registries`, {
      headers: { authorization: `Bearer ${berth.adminToken}`, 'x-request-id': 'trace-abc.123' },
    });
    assert.equal(res.headers.get('x-request-id'), 'trace-abc.123');
    const generated = await fetch(`${berth.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 200));
    const lines = berth.output().split('\n').filter((l) => l.includes('"trace-abc.123"'));
    assert.equal(lines.length, 1, berth.output());
    const entry = JSON.parse(lines[0]!) as { req: { id: string; method: string }; res: { statusCode: number } };
    assert.equal(entry.req.method, 'GET');
    assert.equal(entry.res.statusCode, 200);
    assert.ok(!berth.output().includes(berth.adminToken), 'the admin token appears in the output');
  });

  it('unknown paths are a 404 error body', async () => {
    const res = await fetch(`${berth.url}/v1/nothing/here`, { headers: { authorization: `Bearer ${berth.adminToken}` } });
    assert.equal(res.status, 404);
    assert.ok(((await res.json()) as { errors: unknown[] }).errors.length === 1);
  });

  it('SIGTERM drains a request in flight, then exits 0', async () => {
    const other = await startBerth();
    // A slow upload: the request is in flight while SIGTERM arrives.
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode('{"address": "drain.example.com"'));
        await new Promise((r) => setTimeout(r, 700));
        controller.enqueue(new TextEncoder().encode('}'));
        controller.close();
      },
    });
    const pending = fetch(`${other.url}/v1/config/image-registry/remote-registries`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.adminToken}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    await new Promise((r) => setTimeout(r, 300));
    other.process.kill('SIGTERM');
    const res = await pending;
    assert.equal(res.status, 201);
    assert.equal(await exitOf(other.process), 0);
    const again = await startBerth({ dataDir: other.dataDir });
    const api = new Api(again.url, again.adminToken);
    assert.equal((await api.get('/v1/config/image-registry/remote-registries/drain.example.com')).status, 200);
    await again.stop();
  });
});

describe('settings', () => {
  const failsWith = async (args: string[], env: Record<string, string>, pattern: RegExp) => {
    const child = spawnBerth(args, cleanEnv({ BERTH_DATA_DIR: '/tmp/berth-never-used', ...env }));
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await exitOf(child);
    assert.equal(code, 2, stderr);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `expected one line, got: ${stderr}`);
    assert.match(lines[0]!, pattern);
  };

  it('an unknown or malformed setting stops the process with one clear line', async () => {
    await failsWith([], { BERTH_LISTN: '127.0.0.1:1' }, /^berth: unknown setting BERTH_LISTN/);
    await failsWith([], { BERTH_LISTEN: 'localhost' }, /^berth: BERTH_LISTEN: expected HOST:PORT/);
    await failsWith([], { BERTH_LISTEN: '127.0.0.1:99999' }, /^berth: BERTH_LISTEN/);
    await failsWith([], { BERTH_LOG_LEVEL: 'loud' }, /^berth: BERTH_LOG_LEVEL: expected one of/);
    await failsWith([], { BERTH_ADMIN_TOKEN: 'short' }, /^berth: BERTH_ADMIN_TOKEN/);
    await failsWith(['--colour', 'blue'], {}, /^berth: Unknown option '--colour'/);
  });

  it('credentials in VAULT_ADDR stop the process with one line that does not quote them', async () => {
    const child = spawnBerth([], cleanEnv({ BERTH_DATA_DIR: '/tmp/berth-never-used', VAULT_ADDR: 'http://vaultuser:hunter2-pw@127.0.0.1:8200', VAULT_TOKEN: 'vault-token-0123456789' }));
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    assert.equal(await exitOf(child), 2, stderr);
    assert.equal(stderr, 'berth: VAULT_ADDR: no credentials in the URL; Berth authenticates with VAULT_TOKEN\n');
  });

  it('flags override the environment', async () => {
    const berth = await startBerth({ args: ['--log-level', 'warn'] });
    const res = await fetch(`${berth.url}/healthz`);
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!berth.output().includes('"request completed"'), 'info lines are logged despite --log-level warn');
    await berth.stop();
  });
});

describe('error bodies', () => {
  it('name the offending field and carry no stack traces', async () => {
    const berth = await startBerth();
    const api = new Api(berth.url, berth.adminToken, assertMatchesContract);
    const res = await api.post('/v1/config/image-registry/remote-registries', { address: 'ok.example.com', credentials: 'nope' });
    assert.equal(res.status, 400);
    assert.match(errorMessage(res), /^credentials: must be array/);
    assert.ok(!res.text.includes('at '));
    await berth.stop();
  });
});
