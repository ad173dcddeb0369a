// Every request gets an answer, or a deliberate close: a body cut short by Berth (a size bound, a full disk, a
// cancelled upload) is answered while the client is still sending, in the OCI or API error format; Node's request
// timeout is a 408; running out of file descriptors is a 503 with Retry-After, and Berth works again once they free.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { Pool } from 'undici';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Api, errorMessage } from '../helpers/api.js';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { eventually } from '../helpers/eventually.js';
import { openNdjson } from '../helpers/ndjson-stream.js';
import { startHostileRegistry, type HostileRegistry } from '../helpers/hostile-registry.js';
import { createCertificateAuthority, type CertificateAuthority } from '../helpers/tls.js';

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A request whose body the test sends chunk by chunk, and whose answer may come before the body ends. */
function streamingRequest(base: string, method: string, path: string, headers: Record<string, string>) {
  const url = new URL(base);
  const outgoing = request({ host: url.hostname, port: url.port, method, path, agent: false, headers: { ...headers, 'transfer-encoding': 'chunked' } });
  const answer = new Promise<Answer>((resolve, reject) => {
    outgoing.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    // Writing on after the answer may meet a closed connection; only a missing answer is a failure.
    outgoing.on('error', (e) => setTimeout(() => reject(e), 1000));
    // A guard against hanging (the behaviour this file tests), not a timing check.
    setTimeout(() => reject(new Error(`no answer to ${method} ${path} within 60 s`)), 60_000).unref();
  });
  let answered = false;
  void answer.then(() => (answered = true), () => {});
  return {
    answer,
    get answered() {
      return answered;
    },
    write: (chunk: Buffer) => new Promise<void>((resolve) => outgoing.write(chunk, () => resolve())),
    end: () => outgoing.end(),
  };
}

const ociCode = (answer: Answer) => (JSON.parse(answer.body) as { errors: { code: string; message: string }[] }).errors[0]!;

describe('a request body cut short by Berth is answered', () => {
  let berth: BerthProcess;
  let auth: Record<string, string>;
  before(async () => {
    berth = await startBerth();
    auth = { authorization: `Bearer ${berth.adminToken}` };
  });
  after(async () => {
    assert.equal(await berth.stop(), 0);
    rmSync(berth.dataDir, { recursive: true, force: true });
  });

  it('a chunk still streaming into a cancelled upload gets 404 BLOB_UPLOAD_UNKNOWN, and its bytes are gone', async () => {
    const started = await fetch(`${berth.url}/v2/cancel/app/blobs/uploads/`, { method: 'POST', headers: auth });
    assert.equal(started.status, 202);
    const location = started.headers.get('location')!;
    const patch = streamingRequest(berth.url, 'PATCH', location, { ...auth, 'content-type': 'application/octet-stream' });
    await patch.write(Buffer.alloc(256 * 1024, 1));
    // The session reports what has arrived so far while the PATCH is still open.
    await eventually('the first chunk stored', async () => {
      const status = await fetch(`${berth.url}${location}`, { headers: auth });
      return status.status === 204 && status.headers.get('range') === `0-${256 * 1024 - 1}`;
    });
    const cancelled = await fetch(`${berth.url}${location}`, { method: 'DELETE', headers: auth });
    assert.equal(cancelled.status, 204);
    await patch.write(Buffer.alloc(64 * 1024, 2));
    const answer = await patch.answer;
    assert.equal(answer.status, 404);
    assert.equal(ociCode(answer).code, 'BLOB_UPLOAD_UNKNOWN');
    patch.end();
    assert.deepEqual(readdirSync(join(berth.dataDir, 'registry', 'uploads')), []);
  });

  it('a manifest sent without Content-Length past the limit gets 413 while the client is still sending', async () => {
    const put = streamingRequest(berth.url, 'PUT', '/v2/big/app/manifests/v1', { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    for (let sent = 0; sent <= 4 * MiB && !put.answered; sent += 64 * 1024) await put.write(Buffer.alloc(64 * 1024, 0x20));
    const answer = await put.answer;
    assert.equal(answer.status, 413);
    assert.match(ociCode(answer).message, /BERTH_MAX_MANIFEST_BYTES/);
    put.end();
  });

  it('a client that leaves mid-upload is no error: nothing logged at error level, the session keeps what arrived', async () => {
    const started = await fetch(`${berth.url}/v2/gone/app/blobs/uploads/`, { method: 'POST', headers: auth });
    const location = started.headers.get('location')!;
    const url = new URL(berth.url);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`PATCH ${location} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.authorization}\r\nContent-Length: ${MiB}\r\n\r\n`);
    socket.write(Buffer.alloc(100_000, 3));
    await eventually('bytes arrived', async () => (await fetch(`${berth.url}${location}`, { headers: auth })).headers.get('range') !== '0-0');
    socket.destroy();
    // The session keeps what arrived (the client may resume), and no error was logged for a client that left.
    const ended = (line: string) => line.includes(location) && line.includes('"request aborted"');
    await eventually('the request logged as aborted', async () => berth.output().split('\n').some(ended));
    assert.deepEqual(berth.output().split('\n').filter((l) => l.includes(location) && /"level":50/.test(l)), []);
    assert.equal((await fetch(`${berth.url}${location}`, { method: 'DELETE', headers: auth })).status, 204);
  });
});

describe('a full disk', () => {
  // A small tmpfs as the data directory: a real ENOSPC, not a stand-in.
  const mountPoint = mkdtempSync(join(tmpdir(), 'berth-full-disk-'));
  let berth: BerthProcess;
  let ca: CertificateAuthority;
  let remote: HostileRegistry;
  let auth: Record<string, string>;

  before(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mountPoint]);
    const dataDir = join(mountPoint, 'data');
    mkdirSync(dataDir);
    ca = createCertificateAuthority('Berth Full Disk CA');
    remote = await startHostileRegistry(ca);
    berth = await startBerth({ dataDir });
    auth = { authorization: `Bearer ${berth.adminToken}` };
  });
  after(async () => {
    await berth?.stop();
    await remote?.stop();
    execFileSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
    if (ca) rmSync(ca.dir, { recursive: true, force: true });
  });

  const errorLines = (text: string) => text.split('\n').filter((l) => /"level":50/.test(l));

  it('a /v2 upload that fills it gets 507 with the OCI body while still sending, the cause logged once, its bytes removed', async () => {
    const started = await fetch(`${berth.url}/v2/full/app/blobs/uploads/`, { method: 'POST', headers: auth });
    const location = started.headers.get('location')!;
    const errorsBefore = errorLines(berth.output()).length;
    const patch = streamingRequest(berth.url, 'PATCH', location, { ...auth, 'content-type': 'application/octet-stream' });
    for (let sent = 0; sent < 16 * MiB && !patch.answered; sent += 256 * 1024) await patch.write(Buffer.alloc(256 * 1024, 4));
    const answer = await patch.answer;
    patch.end();
    assert.equal(answer.status, 507, answer.body);
    assert.match(ociCode(answer).message, /storage full \(ENOSPC\)/);
    // The request's own log line carries the cause, at error level; it is written as the answer finishes.
    const logged = await eventually('the failure logged', async () => {
      const lines = errorLines(berth.output()).slice(errorsBefore);
      return lines.length > 0 && lines;
    });
    assert.equal(logged.length, 1, logged.join('\n'));
    assert.match(logged[0]!, /ENOSPC/);
    assert.deepEqual(readdirSync(join(berth.dataDir, 'registry', 'uploads')), [], 'the staging file is gone, its space free again');
    // With the space back, uploads work.
    const small = Buffer.from('fits on the disk');
    const pushed = await fetch(`${berth.url}/v2/full/app/blobs/uploads/?digest=${sha256(small)}`, { method: 'POST', headers: auth, body: small });
    assert.equal(pushed.status, 201);
  });

  it('a pull that fills it gets 507 with the API error body', async () => {
    const api = new Api(berth.url, berth.adminToken, assertMatchesContract);
    assert.equal((await api.post('/v1/config/image-registry/remote-registries', { address: remote.address, 'ca-cert': ca.certPem })).status, 201);
    remote.addImage('huge/app', 'huge', { layerSizes: [12 * MiB], tag: 'v1' });
    const res = await api.post(`/v1/state/image-registry/remote-registries/${remote.address}/pull`, { image: 'huge/app:v1' });
    assert.equal(res.status, 507, res.text);
    assert.match(errorMessage(res), /storage full \(ENOSPC\)/);
    assert.deepEqual(readdirSync(join(berth.dataDir, 'registry', 'uploads')), []);
  });

  it('a pull followed as a progress stream that fills it ends with the storage-full error body; its record says so; the cause logged once', async () => {
    remote.addImage('huge/streamed', 'huge-streamed', { layerSizes: [12 * MiB], tag: 'v1' });
    const errorsBefore = errorLines(berth.output()).length;
    const stream = await openNdjson(`${berth.url}/v1/state/image-registry/remote-registries/${remote.address}/pull`, { token: berth.adminToken, body: { image: 'huge/streamed:v1' } });
    assert.equal(stream.status, 200);
    const lines = (await stream.rest()) as Record<string, unknown>[];
    const started = lines[0]!;
    assert.equal(started.event, 'pull-started');
    const path = `/v1/state/image-registry/remote-registries/${remote.address}/pull`;
    assertMatchesContract('POST', path, { status: 200, headers: stream.headers, body: lines, text: JSON.stringify(lines) });
    const last = lines.at(-1) as { errors?: { 'error-message': string }[] };
    assert.match(last.errors?.[0]?.['error-message'] ?? '', /storage full \(ENOSPC\)/, JSON.stringify(last));
    const api = new Api(berth.url, berth.adminToken, assertMatchesContract);
    const record = await api.get(`/v1/state/image-registry/pulls/${String(started.id)}`);
    assert.equal((record.body as { state: string }).state, 'failed');
    assert.match((record.body as { 'error-message': string })['error-message'], /storage full \(ENOSPC\)/);
    const logged = await eventually('the failure logged', async () => {
      const found = errorLines(berth.output()).slice(errorsBefore);
      return found.length > 0 && found;
    });
    assert.equal(logged.length, 1, logged.join('\n'));
    assert.match(logged[0]!, /ENOSPC/);
    assert.doesNotMatch(logged[0]!, /unexpected error/);
    assert.deepEqual(readdirSync(join(berth.dataDir, 'registry', 'uploads')), []);
  });
});

describe('timeouts and file descriptors', () => {
  let berth: BerthProcess;
  let auth: Record<string, string>;
  before(async () => {
    berth = await startBerth({ env: { BERTH_REQUEST_TIMEOUT: '2' } });
    auth = { authorization: `Bearer ${berth.adminToken}` };
  });
  after(async () => {
    assert.equal(await berth.stop(), 0);
    rmSync(berth.dataDir, { recursive: true, force: true });
  });

  it('a request not received in full within BERTH_REQUEST_TIMEOUT gets 408 with the API error body', async () => {
    const url = new URL(berth.url);
    const socket = connect(Number(url.port), url.hostname);
    socket.write(`POST /v1/config/image-registry/remote-registries HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.authorization}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"addr`);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    assert.match(received, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(received, /"error-message":"the request was not received in full in time"/);
  });

  it('out of file descriptors: 503 with Retry-After on /v2 and /v1, never 500; all well once they are free', async (t) => {
    const api = new Api(berth.url, berth.adminToken, assertMatchesContract);
    // An address, not a name: no DNS lookup between the pull and its socket.
    assert.equal((await api.post('/v1/config/image-registry/remote-registries', { address: '127.0.0.1:9' })).status, 201);
    // Connections opened before the limit drops, so the requests reach Berth; each then needs a file of its own
    // (an upload's staging file, a socket to the remote registry).
    const REQUESTS = 7;
    const pool = new Pool(berth.url, { connections: REQUESTS });
    await Promise.all(Array.from({ length: REQUESTS }, () => pool.request({ method: 'GET', path: '/healthz' }).then((r) => r.body.text())));
    const pid = String(berth.process.pid);
    // A new file gets the lowest free descriptor number, and none at or above the limit: at the lowest free number,
    // no open can succeed. The soft limit only: lowering the hard one could not be undone without CAP_SYS_RESOURCE.
    const used = new Set(readdirSync(`/proc/${pid}/fd`).map(Number));
    let lowestFree = 0;
    while (used.has(lowestFree)) lowestFree++;
    const softLimit = /^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))![1]!;
    execFileSync('prlimit', ['--pid', pid, `--nofile=${lowestFree}:`]);
    try {
      const results = await Promise.all([
        ...Array.from({ length: REQUESTS - 1 }, () => pool.request({ method: 'POST', path: '/v2/fd/app/blobs/uploads/', headers: auth })),
        pool.request({
          method: 'POST',
          path: '/v1/state/image-registry/remote-registries/127.0.0.1:9/pull',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ image: 'some/app:v1' }),
        }),
      ].map((p) => p.then(async (res) => ({ status: res.statusCode, retryAfter: res.headers['retry-after'], body: await res.body.text() }))));
      t.diagnostic(`at the limit: ${JSON.stringify(results.map((r) => r.status))}`);
      // Every request answered: none could open a file, and each says so with a 503 the client can retry.
      for (const r of results) {
        assert.equal(r.status, 503, JSON.stringify(r));
        assert.equal(r.retryAfter, '1');
        assert.match(r.body, /too many files open \((EMFILE|ENFILE)\)/);
      }
      assert.equal(JSON.parse(results[0]!.body).errors[0].code, 'UNAVAILABLE');
      assert.ok(JSON.parse(results.at(-1)!.body).errors[0]['error-message']);
    } finally {
      execFileSync('prlimit', ['--pid', pid, `--nofile=${softLimit}:`]);
      await pool.close();
    }
    const after = await fetch(`${berth.url}/v2/fd/app/blobs/uploads/`, { method: 'POST', headers: auth });
    assert.equal(after.status, 202);
    assert.equal((await fetch(`${berth.url}/healthz`)).status, 200);
    // The pull's HTTP client, which failed to load at the limit, loads now: the pull reaches the registry's address
    // (where nothing listens) instead of failing as before.
    const pull = await api.post('/v1/state/image-registry/remote-registries/127.0.0.1:9/pull', { image: 'some/app:v1' });
    assert.equal(pull.status, 502, pull.text);
    assert.match(errorMessage(pull), /cannot connect/);
  });
});
