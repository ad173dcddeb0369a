// EtcdConfigStore on real etcd clusters, for what only etcd has: etcd's own revisions, prefixes shared with other users,
// compaction (a typed error), killed members, lost answers to writes, quorum health, TLS, users and expiring tokens.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { pino } from 'pino';
import { Etcd3 } from 'etcd3';
import { EtcdConfigStore, type EtcdStoreSettings } from '../../src/store/etcd.js';
import { RevisionCompactedError } from '../../src/store/revision-compacted.js';
import { BerthError } from '../../src/errors.js';
import { statusOf } from '../../src/http/error-response.js';
import { issueClientCertificate, startEtcdCluster, type EtcdCluster } from '../helpers/etcd-cluster.js';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from '../helpers/tls.js';
import { cleanEnv, exitOf, spawnBerth, startBerth } from '../helpers/berth.js';
import { Api } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { follow } from '../unit/config-store-conformance.js';
import { eventually } from '../helpers/eventually.js';

let cluster: EtcdCluster;
const stores: EtcdConfigStore[] = [];
const raws: Etcd3[] = [];

before(async () => {
  cluster = await startEtcdCluster({ members: 3 });
});

after(async () => {
  for (const store of stores) await store.close();
  for (const raw of raws) raw.close();
  await cluster?.stop();
});

let prefixes = 0;
const freshPrefix = () => `/etcd-store-test/${++prefixes}/`;

function open(settings: Partial<EtcdStoreSettings> & { prefix: string }, options: ConstructorParameters<typeof EtcdConfigStore>[1] = {}): EtcdConfigStore {
  const store = new EtcdConfigStore({ endpoints: cluster.endpoints, ...settings }, options);
  stores.push(store);
  return store;
}

/** A plain etcd client, as another tool sharing the cluster would use it. */
function rawClient(hosts = cluster.endpoints): Etcd3 {
  const raw = new Etcd3({ hosts });
  raws.push(raw);
  return raw;
}

/** A logger whose lines the test can read. */
function memoryLogger() {
  const lines: string[] = [];
  return { lines, logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }) };
}

describe("etcd's own revisions", () => {
  it('a write answers the mod revision etcd itself reports for the key, the same through every handle', async () => {
    const prefix = freshPrefix();
    const store = open({ prefix });
    const other = open({ prefix });
    const raw = rawClient();
    const first = await store.put('registries/a', { v: 1 });
    const second = await other.put('registries/a', { v: 2 }, { kind: 'mod-revision', revision: first.revision });
    const [kv] = (await raw.getAll().prefix(`${prefix}kv/registries/a`).exec()).kvs;
    assert.equal(Number(kv!.mod_revision), second.revision);
    assert.equal(Number(kv!.create_revision), first.revision);
    const entry = await store.get('registries/a');
    assert.equal(entry?.modRevision, second.revision);
    assert.equal(entry?.createRevision, first.revision);
    assert.deepEqual(entry?.value, { v: 2 });
  });

  it("writes by other users of the cluster move etcd's revision, but never show in this prefix's entries, revision or feed", async () => {
    const prefix = freshPrefix();
    const store = open({ prefix });
    const neighbour = open({ prefix: freshPrefix() });
    const raw = rawClient();
    const mine = await store.put('k', 1);
    await raw.put('/someone-else/key').value('x');
    await neighbour.put('k', 'theirs');
    const afterForeign = Number((await raw.get('/someone-else/key').exec()).header.revision);
    assert.ok(afterForeign > mine.revision + 1);
    assert.equal(await store.revision(), mine.revision, 'the revision of the last write under this prefix');
    assert.deepEqual((await store.changesSince(0)).map((c) => [c.revision, c.key, c.value]), [[mine.revision, 'k', 1]]);
    assert.deepEqual((await store.list('')).map((e) => e.value), [1]);
    const next = await store.put('k', 2);
    assert.ok(next.revision > afterForeign);
    assert.deepEqual((await store.changesSince(mine.revision)).map((c) => c.revision), [next.revision]);
  });

  it('a watch through one handle delivers the writes of another handle (another Berth process) in order', async () => {
    const prefix = freshPrefix();
    const watcherSide = open({ prefix });
    const writerSide = open({ prefix });
    const watcher = await follow(watcherSide, await watcherSide.revision());
    const revisions: number[] = [];
    for (let i = 0; i < 20; i++) revisions.push((await writerSide.put(`tokens/t${i % 4}`, i)).revision);
    revisions.push((await writerSide.delete('tokens/t0')).revision);
    await watcher.reached(revisions.at(-1)!);
    assert.deepEqual(watcher.seen.map((c) => c.revision), revisions);
    assert.deepEqual(watcher.seen.at(-1), { revision: revisions.at(-1), key: 'tokens/t0', type: 'delete', at: watcher.seen.at(-1)!.at });
    watcher.unsubscribe();
  });
});

describe('compaction', () => {
  it('changesSince and watch from a compacted revision fail with a typed error (409) instead of skipping changes', async () => {
    const store = open({ prefix: freshPrefix() });
    const raw = rawClient();
    const first = await store.put('a', 1);
    await store.put('b', 2);
    const last = await store.put('a', 3);
    // A watch that has caught up before the compaction is not affected by it.
    const running = await follow(store, first.revision);
    await running.reached(last.revision);
    await raw.kv.compact({ revision: last.revision, physical: true });

    for (const attempt of [() => store.changesSince(first.revision - 1), () => store.watch(first.revision, () => {})]) {
      await assert.rejects(attempt(), (e: unknown) => {
        assert.ok(e instanceof RevisionCompactedError, String(e));
        assert.equal(e.kind, 'conflict');
        assert.equal(statusOf(e.kind), 409);
        assert.deepEqual(e.info, { reason: 'revision-compacted', 'after-revision': e.afterRevision, 'compact-revision': last.revision });
        assert.match(e.message, /no longer kept.*read the whole configuration again/);
        return true;
      });
    }
    // From the compaction revision on, the feed works as before.
    assert.deepEqual(await store.changesSince(last.revision), []);
    const next = await store.put('c', 4);
    assert.deepEqual((await store.changesSince(last.revision)).map((c) => c.revision), [next.revision]);
    await running.reached(next.revision);
    assert.deepEqual(running.seen.map((c) => c.key), ['b', 'a', 'c']);
    running.unsubscribe();
  });

  it('resuming from a revision compacted away while this prefix did not change loses nothing, so it is no error', async () => {
    const store = open({ prefix: freshPrefix() });
    const raw = rawClient();
    const { revision } = await store.put('quiet', 1);
    for (let i = 0; i < 5; i++) await raw.put(`/busy-neighbour/${i}`).value(String(i));
    const compactAt = Number((await raw.get('/busy-neighbour/4').exec()).header.revision);
    await raw.kv.compact({ revision: compactAt, physical: true });
    assert.deepEqual(await store.changesSince(revision), []);
    const watcher = await follow(store, revision);
    const next = await store.put('quiet', 2);
    await watcher.reached(next.revision);
    assert.deepEqual(watcher.seen.map((c) => [c.revision, c.value]), [[next.revision, 2]]);
    watcher.unsubscribe();
  });
});

describe('member failures', () => {
  it('a watch keeps going while members are killed one at a time, without losing or repeating a change', async () => {
    const prefix = freshPrefix();
    const { lines, logger } = memoryLogger();
    const watcherSide = open({ prefix }, { logger });
    const writer = open({ prefix });
    const watcher = await follow(watcherSide, await watcherSide.revision());
    const written: number[] = [];
    const write = async (count: number) => {
      for (let i = 0; i < count; i++) written.push((await writer.put(`k${written.length % 7}`, written.length)).revision);
    };
    await write(10);
    // Every member dies once, so whichever member the watch stream is on, it is cut at least once.
    for (let index = 0; index < cluster.members.length; index++) {
      await cluster.kill(index);
      await write(25);
      await cluster.restart(index);
      await write(5);
    }
    await watcher.reached(written.at(-1)!);
    assert.deepEqual(watcher.seen.map((c) => c.revision), written, 'every acknowledged write, once, in order');
    assert.deepEqual(
      watcher.seen.map((c) => c.value),
      written.map((_, i) => i),
    );
    assert.ok(lines.some((l) => l.includes('etcd watch interrupted')), 'the watch stream was cut and resumed');
    watcher.unsubscribe();
  });

  it('writes go on through a leader kill, and every acknowledged one is read back through another handle', async () => {
    const prefix = freshPrefix();
    const store = open({ prefix });
    const reader = open({ prefix });
    const acknowledged = new Map<string, number>();
    const writing = (async () => {
      for (let i = 0; i < 60; i++) acknowledged.set(`w${i}`, (await store.put(`w${i}`, i)).revision);
    })();
    while (acknowledged.size < 20) await new Promise((resolve) => setTimeout(resolve, 5));
    const leader = await cluster.leader();
    await cluster.kill(leader);
    await writing;
    assert.equal(acknowledged.size, 60);
    for (const [key, revision] of acknowledged) assert.equal((await reader.get(key))?.modRevision, revision, key);
    await cluster.restart(leader);
  });

  it('healthy() is false without a quorum and true again once it is back', async () => {
    const store = open({ prefix: freshPrefix() });
    assert.equal(await store.healthy(), true);
    await cluster.kill(1);
    await cluster.kill(2);
    // A linearizable read needs a quorum; the last member may take an election timeout to notice it has none.
    await eventually('healthy() turned false', async () => (await store.healthy()) === false, 30_000);
    await cluster.restart(1);
    await cluster.restart(2);
    await eventually('healthy() turned true', async () => (await store.healthy()) === true, 30_000);
  });
});

/**
 * A loopback TCP proxy to one etcd member that, once armed, passes on the request holding `marker`, waits until
 * etcd has applied it, and then cuts the connection without passing on the answer: a write whose answer is lost.
 */
async function answerLosingProxy(
  upstream: URL,
): Promise<{ url: string; loseAnswerTo(marker: string, applied: () => Promise<boolean>): Promise<void>; cutAll(): Promise<void>; close(): Promise<void> }> {
  let armed: { marker: Buffer; applied: () => Promise<boolean>; cut: () => void } | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const server = connect(Number(upstream.port), upstream.hostname);
    let muted = false;
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        server.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      server.write(chunk);
      if (!armed || !chunk.includes(armed.marker)) return;
      const { applied, cut } = armed;
      armed = undefined;
      muted = true;
      void (async () => {
        while (!(await applied())) await new Promise((resolve) => setTimeout(resolve, 10));
        client.destroy();
        server.destroy();
        cut();
      })();
    });
    server.on('data', (chunk: Buffer) => {
      if (!muted) client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    loseAnswerTo: (marker, applied) => new Promise<void>((cut) => (armed = { marker: Buffer.from(marker), applied, cut })),
    cutAll: async () => {
      for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a write whose answer is lost', () => {
  it('is sent again and recognised as already applied: no spurious 409, 412 or 404, and it happened once', async () => {
    const proxy = await answerLosingProxy(new URL(cluster.endpoints[0]!));
    try {
      const prefix = freshPrefix();
      const store = open({ prefix, endpoints: [proxy.url] });
      const raw = rawClient();
      const valueOf = async (key: string) => (await raw.get(`${prefix}kv/${key}`).string()) ?? undefined;
      await store.put('warm-up', 0);

      // Create with `absent`: the retry finds the key there, written by this very write.
      const cutCreate = proxy.loseAnswerTo(`${prefix}kv/created`, async () => (await valueOf('created')) !== undefined);
      const created = await store.put('created', { v: 1 }, { kind: 'absent' });
      await cutCreate;
      const entry = await store.get('created');
      assert.deepEqual(created, { revision: entry!.modRevision, created: true });
      assert.equal(entry?.createRevision, entry?.modRevision, 'written once');

      // Replace with If-Match semantics: the retry finds the key at a new revision, its own.
      const cutReplace = proxy.loseAnswerTo(`${prefix}kv/created`, async () => JSON.parse((await valueOf('created')) ?? '{}').value?.v === 2);
      const replaced = await store.put('created', { v: 2 }, { kind: 'mod-revision', revision: created.revision });
      await cutReplace;
      assert.deepEqual(replaced, { revision: (await store.get('created'))!.modRevision, created: false });

      // Delete: the retry finds the key gone, and the last write was this delete.
      const cutDelete = proxy.loseAnswerTo(`${prefix}kv/created`, async () => (await valueOf('created')) === undefined);
      const deleted = await store.delete('created', { kind: 'mod-revision', revision: replaced.revision });
      await cutDelete;
      assert.equal(deleted.revision, await store.revision());

      assert.deepEqual(
        (await store.changesSince(0)).map((c) => [c.key, c.type]),
        [['warm-up', 'put'], ['created', 'put'], ['created', 'put'], ['created', 'delete']],
      );
    } finally {
      await proxy.close();
    }
  });
});

describe('TLS, client certificates and etcd users', () => {
  let secure: EtcdCluster;
  let ca: CertificateAuthority;
  let tls: { caCertPem: string; certPem: string; keyPem: string };
  let files: { ca: string; cert: string; key: string };
  const prefix = '/tls-berth/';
  const password = 'etcd-berth-pa55word-7f3a';
  const wrongPassword = 'not-the-pa55word-91c2';

  before(async () => {
    ca = createCertificateAuthority('Berth etcd test CA');
    const client = issueClientCertificate(ca, 'berth-client');
    // Auth tokens forgotten after 1 s unused, so a test can meet an expired one (etcd's default is 5 minutes).
    secure = await startEtcdCluster({ members: 1, tls: { ca, server: issueServerCertificate(ca, 'etcd-server'), client }, extraArgs: ['--auth-token-ttl', '1'] });
    tls = { caCertPem: ca.certPem, certPem: client.certPem, keyPem: client.keyPem };
    files = { ca: ca.certPath, cert: client.certPath, key: client.keyPath };
    // Least privilege, as an operator would set it up: user `berth` may read and write its own prefix only.
    const etcdctl = (...args: string[]) =>
      execFileSync('etcdctl', ['--endpoints', secure.endpointList, '--cacert', files.ca, '--cert', files.cert, '--key', files.key, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ETCDCTL_API: '3' },
      });
    etcdctl('user', 'add', 'root', '--new-user-password=root-pa55word-0d9e');
    etcdctl('user', 'grant-role', 'root', 'root');
    etcdctl('role', 'add', 'berth');
    etcdctl('role', 'grant-permission', 'berth', '--prefix=true', 'readwrite', prefix);
    etcdctl('user', 'add', 'berth', `--new-user-password=${password}`);
    etcdctl('user', 'grant-role', 'berth', 'berth');
    etcdctl('auth', 'enable');
  });

  const otherCa = createCertificateAuthority('Another CA');
  after(async () => {
    await secure?.stop();
    for (const dir of [ca?.dir, otherCa.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const secureStore = (overrides: Partial<EtcdStoreSettings>) => {
    const store = new EtcdConfigStore({ endpoints: secure.endpoints, prefix, tls, auth: { username: 'berth', password }, ...overrides }, { retryForMs: 500 });
    stores.push(store);
    return store;
  };

  it('with the CA, a client certificate and a user limited to the prefix, every operation works, the feed too', async () => {
    const store = secureStore({});
    assert.equal(await store.healthy(), true);
    const watcher = await follow(store, await store.revision());
    const created = await store.put('k', { v: 1 }, { kind: 'absent' });
    const replaced = await store.put('k', { v: 2 }, { kind: 'mod-revision', revision: created.revision });
    assert.deepEqual((await store.list('')).map((e) => [e.key, e.value]), [['k', { v: 2 }]]);
    assert.deepEqual((await store.changesSince(created.revision - 1)).map((c) => c.revision), [created.revision, replaced.revision]);
    await watcher.reached(replaced.revision);
    assert.deepEqual(watcher.seen.map((c) => c.revision), [created.revision, replaced.revision]);
    watcher.unsubscribe();
  });

  it('a watch survives the member restarting and forgetting its auth token (etcd simple tokens live in memory)', async () => {
    const { lines, logger } = memoryLogger();
    const watching = new EtcdConfigStore({ endpoints: secure.endpoints, prefix, tls, auth: { username: 'berth', password } }, { logger });
    stores.push(watching);
    const writer = secureStore({});
    const watcher = await follow(watching, await watching.revision());
    const before = await writer.put('restart', 1);
    await watcher.reached(before.revision);
    await secure.kill(0);
    await secure.restart(0);
    const later = new EtcdConfigStore({ endpoints: secure.endpoints, prefix, tls, auth: { username: 'berth', password } });
    stores.push(later);
    const afterRestart = await later.put('restart', 2);
    await watcher.reached(afterRestart.revision);
    assert.deepEqual(watcher.seen.map((c) => c.value), [1, 2]);
    assert.equal(await watching.healthy(), true);
    assert.ok(lines.some((l) => l.includes('etcd watch interrupted')), 'the watch stream was cut and resumed');
    watcher.unsubscribe();
  });

  it('a wrong password, a prefix the user may not use, or no client certificate: 503s that never show the password', async () => {
    const failures: [string, () => Promise<unknown>][] = [
      ['wrong password', () => secureStore({ auth: { username: 'berth', password: wrongPassword } }).get('k')],
      ['foreign prefix', () => secureStore({ prefix: '/not-berths/' }).get('k')],
      ['no client certificate', () => secureStore({ tls: { caCertPem: ca.certPem } }).get('k')],
      ['untrusted server', () => secureStore({ tls: { ...tls, caCertPem: otherCa.certPem } }).get('k')],
    ];
    for (const [what, failure] of failures) {
      await assert.rejects(failure(), (e: unknown) => {
        assert.ok(e instanceof BerthError, `${what}: ${String(e)}`);
        assert.equal(e.kind, 'unavailable', what);
        assert.ok(!e.message.includes(password) && !e.message.includes(wrongPassword), `${what}: ${e.message}`);
        return true;
      });
    }
    assert.equal(await secureStore({ auth: { username: 'berth', password: wrongPassword } }).healthy(), false);
  });

  it('Berth started with BERTH_ETCD_* serves from etcd; with a wrong password it exits with one line and no password', async () => {
    const env = {
      BERTH_STORE: 'etcd',
      BERTH_ETCD_ENDPOINTS: secure.endpointList,
      BERTH_ETCD_CACERT: files.ca,
      BERTH_ETCD_CERT: files.cert,
      BERTH_ETCD_KEY: files.key,
      BERTH_ETCD_USERNAME: 'berth',
      BERTH_ETCD_PREFIX: prefix,
    };
    const berth = await startBerth({ env: { ...env, BERTH_ETCD_PASSWORD: password } });
    try {
      const api = new Api(berth.url, berth.adminToken, assertMatchesContract);
      const created = await api.post('/v1/config/system/tokens', { name: 'from-etcd', role: 'read' });
      assert.equal(created.status, 201, created.text);
      const stored = await secureStore({}).get('system/tokens/from-etcd');
      assert.equal((stored?.value as { name?: string }).name, 'from-etcd');
      assert.equal((await fetch(`${berth.url}/readyz`)).status, 200);
    } finally {
      assert.equal(await berth.stop(), 0);
    }
    assert.ok(!berth.output().includes(password), 'the password is not in the log');

    const child = spawnBerth([], cleanEnv({ BERTH_LISTEN: '127.0.0.1:0', BERTH_DATA_DIR: berth.dataDir, ...env, BERTH_ETCD_PASSWORD: wrongPassword }));
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    assert.equal(await exitOf(child), 1, output);
    const lines = output.split('\n').filter((l) => l.startsWith('berth:'));
    assert.equal(lines.length, 1, output);
    assert.match(lines[0]!, /^berth: the configuration store \(etcd\) cannot read: .*authentication failed/);
    assert.ok(!output.includes(wrongPassword), output);
  });
});
