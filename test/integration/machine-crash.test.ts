// Losing the machine, not only the process: Berth's data directory lives on crashfs (test/helpers/crashfs.py), which
// at the "power loss" keeps only what was fsync'd (file bytes) and what directory fsyncs made durable (names).
// While config writes, /v2 pushes (monolithic and chunked) and a pull run, the power goes at a random point (in one
// round, part way through the pull's layers); Berth
// is killed, the file system remounted from what survived, Berth restarted on it. Every write answered 2xx must be
// there, whole; every file under blobs/ must be a whole blob; writes cut off may be there, but whole. Three rounds.
//
// That this test can fail: DURABILITY_WITHOUT_FSYNC=1 runs Berth with libeatmydata preloaded, which turns fsync,
// fdatasync and O_SYNC into no-ops for Berth and its SQLite; the acknowledged writes are then lost and it fails.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { mountCrashFs, type CrashFs } from '../helpers/crash-fs.js';
import { filesUnder } from '../helpers/files.js';
import { startHostileRegistry, type HostileRegistry } from '../helpers/hostile-registry.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { createCertificateAuthority, type CertificateAuthority } from '../helpers/tls.js';

const MiB = 1024 * 1024;
const ROUNDS = 3;
/** The power goes after this many acknowledged writes in a round, picked at random in the range. */
const ACKS_BEFORE_CRASH = { min: 20, max: 80 };
const CONFIG_WRITERS = 1;
const PUSHERS = 3;
const REGISTRIES = '/v1/config/image-registry/remote-registries';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EAT_MY_DATA = '/usr/lib/x86_64-linux-gnu/libeatmydata.so';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface Pushed {
  repository: string;
  tag: string;
  manifest: Buffer;
  /** Config and layers, by digest. */
  blobs: Map<string, Buffer>;
}

const workDir = mkdtempSync(join(tmpdir(), 'berth-machine-crash-'));
let ca: CertificateAuthority | undefined;
let remote: HostileRegistry | undefined;
let fs: CrashFs | undefined;
let berth: BerthProcess | undefined;

after(async () => {
  await berth?.kill();
  await fs?.unmount().catch(() => {});
  await remote?.stop();
  if (ca) rmSync(ca.dir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

describe('losing the machine (crashfs)', () => {
  it('keeps every acknowledged config write, /v2 push and pull, and only whole blobs, across power losses at random points', async (t) => {
    const withoutFsync = process.env.DURABILITY_WITHOUT_FSYNC === '1';
    if (withoutFsync) assert.ok(existsSync(EAT_MY_DATA), `${EAT_MY_DATA} (Debian eatmydata) is needed to run without fsync`);
    const seed = Number(process.env.BERTH_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    t.diagnostic(`seed ${seed} (rerun with BERTH_CRASH_SEED=${seed})${withoutFsync ? '; fsync disabled in Berth (libeatmydata)' : ''}`);
    const random = seededRandom(seed);
    const adminToken = `machine-crash-admin-${seed}-token`;
    const env: Record<string, string> = { BERTH_LOG_LEVEL: 'warn', ...(withoutFsync ? { LD_PRELOAD: EAT_MY_DATA } : {}) };
    ca = createCertificateAuthority('Berth Machine Crash CA');
    remote = await startHostileRegistry(ca);

    const configAcked = new Map<string, { body: unknown; etag: string }>();
    const configCutOff = new Map<string, unknown>();
    const pushesAcked: Pushed[] = [];
    const blobsAcked = new Map<string, { repository: string; bytes: Buffer }>();
    const pullsAcked: Array<{ tag: string; digest: string }> = [];
    const pullsCut: Array<{ tag: string; digest: string }> = [];
    let made = 0;

    const request = (method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}) =>
      fetch(`${berth!.url}${path}`, { method, headers: { authorization: `Bearer ${adminToken}`, ...headers }, ...(body !== undefined ? { body } : {}) });

    /** Everything acknowledged so far, through a Berth started on what survived. */
    const verify = async (round: string) => {
      for (const [address, { body, etag }] of configAcked) {
        const res = await request('GET', `${REGISTRIES}/${address}`, undefined, { accept: 'application/json' });
        assert.equal(res.status, 200, `${round}: acknowledged registry ${address} is missing`);
        assert.deepEqual(await res.json(), body, `${round}: ${address} changed`);
        assert.equal(res.headers.get('etag'), etag, `${round}: the ETag of ${address} changed`);
      }
      const listed = (await (await request('GET', REGISTRIES, undefined, { accept: 'application/json' })).json()) as Array<{ address: string }>;
      for (const entry of listed) {
        const known = configAcked.get(entry.address)?.body ?? configCutOff.get(entry.address);
        assert.ok(known, `${round}: ${entry.address} is listed but was never sent`);
        assert.deepEqual(entry, known, `${round}: ${entry.address} is not whole`);
      }
      const readWhole = async (repository: string, digest: string) => {
        const res = await request('GET', `/v2/${repository}/blobs/${digest}`);
        assert.equal(res.status, 200, `${round}: acknowledged blob ${repository}@${digest} is missing`);
        assert.equal(sha256(Buffer.from(await res.arrayBuffer())), digest, `${round}: blob ${digest} is not whole`);
      };
      for (const pushed of pushesAcked) {
        const res = await request('GET', `/v2/${pushed.repository}/manifests/${pushed.tag}`, undefined, { accept: OCI_MANIFEST });
        assert.equal(res.status, 200, `${round}: acknowledged push ${pushed.repository}:${pushed.tag} is missing`);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(pushed.manifest), `${round}: ${pushed.repository}:${pushed.tag} changed`);
        for (const digest of pushed.blobs.keys()) await readWhole(pushed.repository, digest);
      }
      for (const [digest, { repository }] of blobsAcked) await readWhole(repository, digest);
      for (const pulled of pullsAcked) {
        const res = await request('GET', `/v2/pulled/app/manifests/${pulled.tag}`, undefined, { accept: OCI_MANIFEST });
        assert.equal(res.status, 200, `${round}: acknowledged pull pulled/app:${pulled.tag} is missing`);
        assert.equal(res.headers.get('docker-content-digest'), pulled.digest);
        const manifest = JSON.parse(Buffer.from(await res.arrayBuffer()).toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
        for (const blob of [manifest.config, ...manifest.layers]) await readWhole('pulled/app', blob.digest);
      }
    };

    /** What survived on disk: every file under blobs/ is a whole blob, and nothing else is there. */
    const assertOnlyWholeBlobs = (durable: string) => {
      const files = filesUnder(join(durable, 'data', 'registry', 'blobs'));
      for (const file of files) assert.equal(sha256(readFileSync(file)), `sha256:${file.split('/').at(-1)}`, `${file} is a whole blob`);
      return files.length;
    };

    let durable = mkdtempSync(join(workDir, 'empty-'));
    for (let round = 1; round <= ROUNDS + 1; round++) {
      fs = await mountCrashFs(workDir, durable);
      const dataDir = join(fs.mountPoint, 'data');
      if (round === 1) {
        // Provisioning: the data directory exists, durably, before Berth first starts.
        mkdirSync(dataDir);
        const root = openSync(fs.mountPoint, 'r');
        fsyncSync(root);
        closeSync(root);
      }
      berth = await startBerth({ dataDir, adminToken, env });
      if (round > 1) {
        await verify(`after power loss ${round - 1}`);
        assert.deepEqual(filesUnder(join(dataDir, 'registry', 'uploads')), [], 'start-up removed staging files');
      }
      if (round === ROUNDS + 1) {
        // A pull the power cut off runs again to the end on what survived.
        for (const cut of pullsCut) {
          const res = await request('POST', `/v1/state/image-registry/remote-registries/${remote.address}/pull`, JSON.stringify({ image: `pulled/app:${cut.tag}` }), { 'content-type': 'application/json' });
          assert.equal(res.status, 200, await res.text());
          pullsAcked.push(cut);
        }
        await verify(`after pulling again ${pullsCut.map((c) => c.tag).join(', ') || 'nothing'}`);
        t.diagnostic(`${pullsCut.length} pulls cut off by the power, each completed again afterwards`);
        break;
      }
      if (round === 1) {
        const body = { address: remote.address, 'ca-cert': ca.certPem };
        const res = await request('POST', REGISTRIES, JSON.stringify(body), { 'content-type': 'application/json' });
        assert.equal(res.status, 201, await res.text());
        configAcked.set(remote.address, { body, etag: res.headers.get('etag')! });
      }

      // Round 2 loses power part way through the pull's layers (a random point in them); the others after a
      // random number of acknowledged writes.
      const midPull = round === 2;
      const crashAfter = ACKS_BEFORE_CRASH.min + Math.floor(random() * (ACKS_BEFORE_CRASH.max - ACKS_BEFORE_CRASH.min + 1));
      let acks = 0;
      /** Whole pushes (manifest and all) acknowledged this round: the power waits for one, however slow they are. */
      let pushes = 0;
      let pullOver = false;
      let crashing: Promise<string> | undefined;
      let cause = '';
      const running = berth;
      const mounted = fs;
      const powerLoss = (why: string) => {
        if (crashing) return;
        cause = why;
        // The power goes: what was not durable is gone, and Berth with it.
        crashing = mounted.crash().then(async (survived) => {
          await running.kill();
          return survived;
        });
      };
      const acknowledged = () => {
        if (++acks >= crashAfter && pushes > 0 && (!midPull || pullOver)) powerLoss(`after ${acks} acknowledged writes`);
      };
      const live = () => crashing === undefined;
      const staging = join(dataDir, 'registry', 'uploads');
      const watchPull = async () => {
        // Pushed layers are at most 256 KiB: a staging file past this is one of the pull's layers (1 to 2 MiB).
        const point = 300 * 1024 + Math.floor(random() * 700 * 1024);
        while (live() && !pullOver) {
          const sizes = filesUnder(staging).map((f) => statSync(f, { throwIfNoEntry: false })?.size ?? 0);
          if (sizes.some((size) => size >= point)) powerLoss(`with a pulled layer at ${point} bytes or more`);
          await sleep(2);
        }
      };

      const configWriter = async () => {
        while (live()) {
          const n = ++made;
          const body = {
            address: `r${n}-round${round}.crash.example.com:${1000 + n}`,
            ...(random() < 0.5 ? { 'override-address': `mirror-${n}.example.com` } : {}),
            credentials: Array.from({ length: Math.floor(random() * 3) }, (_, i) => ({ repository: i === 0 ? '*' : `team-${n}/app-${i}`, vault: 'kv', secret: `r${n}/c${i}` })),
          };
          try {
            const res = await request('POST', REGISTRIES, JSON.stringify(body), { 'content-type': 'application/json' });
            await res.arrayBuffer();
            if (res.status === 201) {
              configAcked.set(body.address, { body, etag: res.headers.get('etag')! });
              acknowledged();
            } else configCutOff.set(body.address, body);
          } catch {
            configCutOff.set(body.address, body);
          }
        }
      };

      const uploadBlob = async (repository: string, bytes: Buffer): Promise<boolean> => {
        const digest = sha256(bytes);
        if (random() < 0.5) {
          const res = await request('POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, bytes, { 'content-type': 'application/octet-stream' });
          await res.arrayBuffer();
          return res.status === 201;
        }
        const started = await request('POST', `/v2/${repository}/blobs/uploads/`);
        await started.arrayBuffer();
        if (started.status !== 202) return false;
        const location = started.headers.get('location')!;
        const half = Math.floor(bytes.length / 2);
        const patched = await request('PATCH', location, bytes.subarray(0, half), { 'content-type': 'application/octet-stream' });
        await patched.arrayBuffer();
        if (patched.status !== 202) return false;
        const put = await request('PUT', `${location}?digest=${digest}`, bytes.subarray(half), { 'content-type': 'application/octet-stream' });
        await put.arrayBuffer();
        return put.status === 201;
      };

      const pusher = async (id: number) => {
        while (live()) {
          const n = ++made;
          const repository = `pushed/p${id}`;
          const layer = Buffer.alloc(32 * 1024 + Math.floor(random() * 224 * 1024), `layer-${n}-${seed}`);
          const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n }));
          const blobs = new Map([[sha256(config), config], [sha256(layer), layer]]);
          try {
            let complete = true;
            for (const [digest, bytes] of blobs) {
              if (!(await uploadBlob(repository, bytes))) {
                complete = false;
                break;
              }
              blobsAcked.set(digest, { repository, bytes });
              acknowledged();
            }
            if (!complete) continue;
            const manifest = Buffer.from(JSON.stringify({
              schemaVersion: 2,
              mediaType: OCI_MANIFEST,
              config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
              layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
            }));
            const tag = `t${n}`;
            const res = await request('PUT', `/v2/${repository}/manifests/${tag}`, manifest, { 'content-type': OCI_MANIFEST });
            await res.arrayBuffer();
            if (res.status === 201) {
              pushesAcked.push({ repository, tag, manifest, blobs });
              pushes++;
              acknowledged();
            }
          } catch {
            // Cut off by the power loss.
          }
        }
      };

      const puller = async () => {
        const tag = `r${round}`;
        const image = remote!.addImage('pulled/app', `round-${round}-${seed}`, { layerSizes: [MiB, 2 * MiB, MiB + 12345], tag });
        try {
          const res = await request('POST', `/v1/state/image-registry/remote-registries/${remote!.address}/pull`, JSON.stringify({ image: `pulled/app:${tag}` }), { 'content-type': 'application/json' });
          const text = await res.text();
          if (res.status === 200) {
            assert.equal((JSON.parse(text) as { digest: string }).digest, image.digest);
            pullsAcked.push({ tag, digest: image.digest });
            acknowledged();
          } else pullsCut.push({ tag, digest: image.digest });
        } catch {
          pullsCut.push({ tag, digest: image.digest });
        } finally {
          pullOver = true;
        }
      };

      await Promise.all([
        ...Array.from({ length: CONFIG_WRITERS }, configWriter),
        ...Array.from({ length: PUSHERS }, (_, i) => pusher(i)),
        puller(),
        ...(midPull ? [watchPull()] : []),
      ]);
      durable = await crashing!;
      await fs.unmount();
      const blobs = assertOnlyWholeBlobs(durable);
      t.diagnostic(`round ${round}: power lost ${cause} (${configAcked.size} registries, ${pushesAcked.length} pushes, ${blobsAcked.size} blobs, ${pullsAcked.length} pulls acknowledged so far); ${blobs} whole blobs on disk`);
    }
    assert.ok(configAcked.size > ROUNDS && pushesAcked.length >= ROUNDS - 1, 'the rounds acknowledged writes');
    assert.equal(await berth!.stop(), 0);
    berth = undefined;
    await fs!.unmount();
    fs = undefined;
  });
});
