// Pulls as tracked operations, end to end: a real docker-registry behind a proxy that holds or slows blob bodies, a
// control tower and a site following it (each a real Berth). Every pull is listed with its progress; the NDJSON
// progress stream delivers events while the pull runs, locally and through `?site=`, and ends with the plain answer;
// `wait=false` answers 202; a pull whose clients all went away stops, releases its holds and leaves no staging file.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { errorMessage, type Api, type ApiResponse } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { converged, startSite, startTower, type RunningSite, type RunningTower } from '../helpers/berth-site.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { eventually } from '../helpers/eventually.js';
import { openNdjson, type NdjsonStream } from '../helpers/ndjson-stream.js';
import { buildSinglePlatformImage, pushImage, type BuiltBlob, type BuiltImage } from '../helpers/oci-images.js';
import { startRegistryProxy, type RegistryProxy } from '../helpers/registry-proxy.js';
import { createCertificateAuthority, type CertificateAuthority } from '../helpers/tls.js';
import { validatorFor } from '../../src/contract/openapi.js';

const PROXIED = 'tracked.registry.test:5000';
const PULL = `/v1/state/image-registry/remote-registries/${PROXIED}/pull`;
const PULLS = '/v1/state/image-registry/pulls';
const GC = '/v1/state/image-registry/garbage-collect';
const KiB = 1024;
const MiB = 1024 * KiB;
/** Finished pulls the tower keeps listed; small, so the last test can see the oldest go. */
const HISTORY = 6;

interface PullLayer {
  digest: string;
  state: string;
  'bytes-done': number;
  'bytes-total': number;
  fetched: boolean;
}
interface PullRecord {
  id: string;
  state: string;
  waiting: number;
  'run-to-end': boolean;
  image: string;
  target: string;
  platform: string;
  layers: PullLayer[];
  'bytes-done': number;
  'bytes-total': number;
  result?: { name: string; digest: string; 'tag-updated': boolean };
  'error-message'?: string;
}
type Line = Record<string, unknown>;

let ca: CertificateAuthority;
let registry: RunningRegistry;
let proxy: RegistryProxy;
let tower: RunningTower;
let edge: RunningSite;
const images = new Map<string, BuiltImage>();

const inspect = (method: string, path: string, res: ApiResponse) => assertMatchesContract(method, path, res);
const progressLine = validatorFor('#/components/schemas/PullProgressLine');

/** Each line must be one the contract documents for the stream. */
function assertContractLines(lines: unknown[]): void {
  for (const line of lines) assert.ok(progressLine(line), `not a PullProgressLine: ${JSON.stringify(line)}`);
}

const blobsOf = (image: BuiltImage) => [image.manifests[0]!.config, ...image.manifests[0]!.layers];
const image = (name: string) => images.get(name)!;

async function record(api: Api, id: string, site?: string): Promise<PullRecord> {
  const res = await api.get(`${PULLS}/${id}${site ? `?site=${site}` : ''}`);
  assert.equal(res.status, 200, res.text);
  return res.body as PullRecord;
}

const streamPull = (url: string, token: string, body: unknown, query = ''): Promise<NdjsonStream> => openNdjson(`${url}${PULL}${query}`, { token, body });

const startedId = async (stream: NdjsonStream) => ((await stream.until((l) => (l as Line).event === 'pull-started', 'pull-started')) as Line).id as string;

before(async () => {
  ca = createCertificateAuthority('Pull Operations Test CA');
  registry = await startDockerRegistry({ auth: { kind: 'none' }, ca });
  proxy = await startRegistryProxy({ port: registry.port, caCertPem: registry.caCertPem }, ca);
  tower = await startTower({ inspect, env: { BERTH_PULL_HISTORY: String(HISTORY) } });
  edge = await startSite(tower, 'edge', { inspect });
  const created = await tower.api.post('/v1/config/image-registry/remote-registries', { address: PROXIED, 'override-address': proxy.address, 'ca-cert': ca.certPem });
  assert.equal(created.status, 201, created.text);
  // One image per test that needs blobs not yet stored anywhere (a stored blob is never fetched again).
  const specs: Record<string, number[]> = {
    small: [2 * KiB, 8 * KiB],
    many: Array.from({ length: 12 }, (_, i) => (i + 1) * KiB),
    streamed: [1 * MiB, 2 * MiB],
    accepted: [256 * KiB],
    abandoned: [64 * KiB, 128 * KiB, 6 * MiB],
    shared: [512 * KiB],
    'site-streamed': [1 * MiB],
    'site-abandoned': [256 * KiB],
  };
  await Promise.all(
    Object.entries(specs).map(async ([name, layerSizes]) => {
      const built = await buildSinglePlatformImage({ seed: `pull-operations-${name}`, layerSizes });
      images.set(name, built);
      await pushImage(built, { address: registry.address, caCertPem: registry.caCertPem }, `ops/${name}`, 'v1');
    }),
  );
  await converged(tower, edge);
});

after(async () => {
  await proxy?.stop();
  for (const close of [() => edge?.close(), () => tower?.close(), () => registry?.stop()]) await close();
  for (const built of images.values()) built.remove();
  rmSync(ca.dir, { recursive: true, force: true });
});

describe('the pulls list', () => {
  it('lists every pull with its state, blobs, bytes and result; one by id; keys, count and fields', async () => {
    const pulled = await tower.api.post(PULL, { image: 'ops/small:v1', platform: 'linux/amd64' });
    assert.equal(pulled.status, 200, pulled.text);
    const byReference = await tower.api.post('/v1/state/image-registry/pull', { image: `${PROXIED}/ops/small:v1`, to: 'ops/other:v2' });
    assert.equal(byReference.status, 200, byReference.text);

    const list = await tower.api.get(PULLS);
    assert.equal(list.status, 200, list.text);
    const records = list.body as PullRecord[];
    const [first, second] = records.slice(-2) as [PullRecord, PullRecord];
    const small = image('small');
    assert.deepEqual(
      { ...first, id: undefined, started: undefined, finished: undefined },
      {
        id: undefined,
        registry: PROXIED,
        image: 'ops/small:v1',
        platform: 'linux/amd64',
        target: 'ops/small:v1',
        state: 'done',
        waiting: 0,
        'run-to-end': false,
        started: undefined,
        finished: undefined,
        'bytes-done': blobsOf(small).reduce((n, b) => n + b.size, 0),
        'bytes-total': blobsOf(small).reduce((n, b) => n + b.size, 0),
        layers: blobsOf(small).map((b) => ({ digest: b.digest, 'media-type': b.mediaType, state: 'done', 'bytes-done': b.size, 'bytes-total': b.size, fetched: true })),
        result: pulled.body,
      },
    );
    // The second pull found every blob in the store already.
    assert.equal(second.target, 'ops/other:v2');
    assert.deepEqual(second.result, byReference.body);
    assert.deepEqual(second.layers.map((l) => l.fetched), blobsOf(small).map(() => false));

    assert.deepEqual(await record(tower.api, first.id), first);
    assert.deepEqual((await tower.api.get(`${PULLS}?keys=true`)).body, records.map((r) => r.id));
    assert.deepEqual((await tower.api.get(`${PULLS}?count=true`)).body, { count: records.length });
    const fields = await tower.api.get(`${PULLS}/${first.id}?fields=state;layers(digest;fetched)`);
    assert.deepEqual(fields.body, { state: 'done', layers: first.layers.map((l) => ({ digest: l.digest, fetched: true })) });
    assert.equal((await tower.api.get(`${PULLS}?fields=nonsense`)).status, 400);
    const missing = await tower.api.get(`${PULLS}/zz-unknown`);
    assert.equal(missing.status, 404);
    assert.match(errorMessage(missing), /no pull 'zz-unknown'/);
  });

  it('tracks an image of many blobs without a warning in the log', async () => {
    const res = await tower.api.post(PULL, { image: 'ops/many:v1' });
    assert.equal(res.status, 200, res.text);
    const last = ((await tower.api.get(PULLS)).body as PullRecord[]).at(-1)!;
    assert.equal(last.layers.length, 13);
    assert.ok(last.layers.every((l) => l.state === 'done' && l['bytes-done'] === l['bytes-total']));
    assert.doesNotMatch(tower.berth.output(), /Warning/);
  });
});

describe('the progress stream', () => {
  it('sends events while the pull runs and ends with the answer a request joining the same pull gets', async () => {
    const body = { image: 'ops/streamed:v1' };
    proxy.behaviour = { kind: 'gate' };
    let plain: Promise<ApiResponse> | undefined;
    try {
      const stream = await streamPull(tower.berth.url, tower.berth.adminToken, body);
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /^application\/x-ndjson/);
      const id = await startedId(stream);
      // Every blob is announced while the registry still holds every blob body back: the pull is running.
      for (const blob of blobsOf(image('streamed'))) await stream.until((l) => (l as Line).event === 'layer-started' && (l as Line).digest === blob.digest, `layer-started ${blob.digest}`);
      assert.equal((await record(tower.api, id)).state, 'running');

      plain = tower.api.post(PULL, body);
      await eventually('the plain request joining the running pull', async () => (await record(tower.api, id)).waiting === 2);
      proxy.release();
      const lines = await stream.rest();
      const answer = await plain;
      assert.equal(answer.status, 200, answer.text);
      assertContractLines(lines);
      assert.deepEqual(lines.at(-1), answer.body, 'the last line is the plain answer');
      assert.deepEqual(lines.at(-2), { event: 'manifest-stored', name: 'ops/streamed:v1', digest: image('streamed').digest });
      const done = lines.filter((l) => (l as Line).event === 'layer-done') as Line[];
      assert.deepEqual(done.map((l) => l.digest).sort(), blobsOf(image('streamed')).map((b) => b.digest).sort());
      assert.ok(done.every((l) => l.fetched === true));
      assert.equal((await record(tower.api, id)).state, 'done');
    } finally {
      proxy.release();
      proxy.behaviour = { kind: 'pass' };
      await plain?.catch(() => undefined);
    }
  });

  it('ends with an error body when the pull fails after the stream began', async () => {
    const stream = await streamPull(tower.berth.url, tower.berth.adminToken, { image: 'ops/absent:v1' });
    const lines = await stream.rest();
    assertContractLines(lines);
    const last = lines.at(-1) as { errors: Array<{ 'error-message': string; 'error-info': { kind: string } }> };
    assert.equal(last.errors[0]!['error-info'].kind, 'not-found');
    const id = (lines[0] as Line).id as string;
    const failed = await record(tower.api, id);
    assert.equal(failed.state, 'failed');
    assert.equal(failed['error-message'], last.errors[0]!['error-message']);
  });

  it('answers problems found before the pull with their status, not a stream', async () => {
    const res = await tower.api.post(PULL, { image: 'ops/small:v1', platform: 'linux/arm64/v8/extra' }, { accept: 'application/x-ndjson' });
    assert.equal(res.status, 400, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  });
});

describe('wait=false', () => {
  it('settles the answer format first: 406 for an Accept it cannot meet, and no pull started', async () => {
    const before = (await tower.api.get(`${PULLS}?count=true`)).body;
    const res = await tower.api.post(`${PULL}?wait=false`, { image: 'ops/small:v1', to: 'ops/never:v1' }, { accept: 'application/x-ndjson' });
    assert.equal(res.status, 406, res.text);
    assert.deepEqual((await tower.api.get(`${PULLS}?count=true`)).body, before);
  });

  it('answers 202 with the Location of the pull, which runs to the end with nobody waiting', async () => {
    proxy.behaviour = { kind: 'gate' };
    try {
      const res = await tower.api.post(`${PULL}?wait=false`, { image: 'ops/accepted:v1' });
      assert.equal(res.status, 202, res.text);
      const location = res.headers.get('location') ?? '';
      const id = (res.body as PullRecord).id;
      assert.equal(location, `${PULLS}/${id}`);
      assert.equal((res.body as PullRecord)['run-to-end'], true);
      const running = (await tower.api.get(location)).body as PullRecord;
      assert.deepEqual([running.state, running.waiting], ['running', 0]);
      proxy.release();
      const done = await eventually('the wait=false pull done', async () => {
        const now = (await tower.api.get(location)).body as PullRecord;
        return now.state === 'done' && now;
      });
      assert.deepEqual(done.result, { name: 'ops/accepted:v1', digest: image('accepted').digest, 'tag-updated': true });
    } finally {
      proxy.release();
      proxy.behaviour = { kind: 'pass' };
    }
  });
});

describe('abandoned pulls', () => {
  it('stops a pull whose only client went away mid-stream, releases its holds and keeps no staging file', async (t) => {
    const abandoned = image('abandoned');
    const [config, smallA, smallB, big] = blobsOf(abandoned) as [BuiltBlob, BuiltBlob, BuiltBlob, BuiltBlob];
    proxy.behaviour = { kind: 'throttle', bytesPerSecond: 1 * MiB };
    try {
      const stream = await streamPull(tower.berth.url, tower.berth.adminToken, { image: 'ops/abandoned:v1' });
      const id = await startedId(stream);
      const partway = await eventually('the small blobs in and the big one on its way', async () => {
        const now = await record(tower.api, id);
        const state = (digest: string) => now.layers.find((l) => l.digest === digest);
        const ready = [config, smallA, smallB].every((b) => state(b.digest)?.state === 'done') && (state(big.digest)?.['bytes-done'] ?? 0) > 0;
        return ready && now;
      });
      assert.equal(partway.state, 'running');
      // Held while the pull runs: garbage collection leaves the blobs it already has.
      const whileRunning = await tower.api.post(GC, { 'grace-period-seconds': 0 });
      assert.equal(whileRunning.status, 200, whileRunning.text);
      const removedWhileRunning = (whileRunning.body as { 'removed-blobs': Array<{ digest: string }> })['removed-blobs'].map((b) => b.digest);
      for (const blob of [config, smallA, smallB]) assert.ok(!removedWhileRunning.includes(blob.digest), `${blob.digest} was held`);

      const left = Date.now();
      stream.abort();
      const stopped = await eventually('the abandoned pull stopped', async () => {
        const now = await record(tower.api, id);
        return now.state !== 'running' && now;
      });
      t.diagnostic(`stopped ${Date.now() - left} ms after its client went away (measured by polling every 50 ms)`);
      assert.equal(stopped.state, 'stopped', JSON.stringify(stopped));
      assert.equal(stopped.waiting, 0);
      assert.match(stopped['error-message'] ?? '', /^stopped: nobody waited for this pull any more/);
      assert.equal(stopped.layers.find((l) => l.digest === big.digest)?.state, 'stopped');
      assert.deepEqual(
        stopped.layers.filter((l) => l.digest !== big.digest).map((l) => l.state),
        ['done', 'done', 'done'],
      );
      // The half-received blob is discarded, not kept as a staging file.
      const uploads = join(tower.berth.dataDir, 'registry', 'uploads');
      await eventually('no staging file left', async () => readdirSync(uploads).length === 0);
      // Released: now garbage collection may take the verified blobs nothing references.
      const afterStop = await tower.api.post(GC, { 'grace-period-seconds': 0 });
      const removed = (afterStop.body as { 'removed-blobs': Array<{ digest: string }> })['removed-blobs'].map((b) => b.digest);
      for (const blob of [config, smallA, smallB]) assert.ok(removed.includes(blob.digest), `${blob.digest} released`);
      assert.ok(!removed.includes(big.digest), 'the big blob was never stored');
      assert.doesNotMatch(tower.berth.output(), /unexpected error/, 'a stopped pull is no error of Berth');
    } finally {
      proxy.behaviour = { kind: 'pass' };
    }
  });

  it('goes on while another caller of the same pull still waits', async () => {
    const body = { image: 'ops/shared:v1' };
    proxy.behaviour = { kind: 'gate' };
    try {
      const leaving = await streamPull(tower.berth.url, tower.berth.adminToken, body);
      const id = await startedId(leaving);
      const staying = tower.api.post(PULL, body);
      await eventually('both callers on one pull', async () => (await record(tower.api, id)).waiting === 2);
      leaving.abort();
      await eventually('one caller left', async () => (await record(tower.api, id)).waiting === 1);
      assert.equal((await record(tower.api, id)).state, 'running');
      proxy.release();
      const answer = await staying;
      assert.equal(answer.status, 200, answer.text);
      assert.equal((await record(tower.api, id)).state, 'done');
    } finally {
      proxy.release();
      proxy.behaviour = { kind: 'pass' };
    }
  });
});

describe('through ?site=', () => {
  it('streams the site\'s progress through the tower as it happens, ending with the plain answer', async () => {
    const body = { image: 'ops/site-streamed:v1' };
    proxy.behaviour = { kind: 'gate' };
    let plain: Promise<ApiResponse> | undefined;
    try {
      const stream = await streamPull(tower.berth.url, tower.berth.adminToken, body, '?site=edge');
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /^application\/x-ndjson/);
      const id = await startedId(stream);
      // Arrived through the tower while the site's pull is held at the registry: nothing buffered on the way.
      for (const blob of blobsOf(image('site-streamed'))) await stream.until((l) => (l as Line).digest === blob.digest, `layer-started ${blob.digest}`);
      const atSite = await record(tower.api, id, 'edge');
      assert.equal(atSite.state, 'running');
      plain = tower.api.post(`${PULL}?site=edge`, body);
      await eventually('the plain request joining at the site', async () => (await record(tower.api, id, 'edge')).waiting === 2);
      proxy.release();
      const lines = await stream.rest();
      assertContractLines(lines);
      const answer = await plain;
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(lines.at(-1), answer.body);
      assert.equal((await tower.api.get(`${PULLS}/${id}`)).status, 404, 'the pull ran at the site, not at the tower');
    } finally {
      proxy.release();
      proxy.behaviour = { kind: 'pass' };
      await plain?.catch(() => undefined);
    }
  });

  it('stops the pull at the site when the client of the tower goes away', async () => {
    proxy.behaviour = { kind: 'gate' };
    try {
      const stream = await streamPull(tower.berth.url, tower.berth.adminToken, { image: 'ops/site-abandoned:v1' }, '?site=edge');
      const id = await startedId(stream);
      await stream.until((l) => (l as Line).event === 'layer-started', 'layer-started');
      stream.abort();
      const stopped = await eventually('the pull at the site stopped', async () => {
        const now = await record(tower.api, id, 'edge');
        return now.state !== 'running' && now;
      });
      assert.equal(stopped.state, 'stopped', JSON.stringify(stopped));
      assert.doesNotMatch(edge.berth.output(), /unexpected error/);
    } finally {
      proxy.release();
      proxy.behaviour = { kind: 'pass' };
    }
  });

  it('wait=false through the tower: the Location names the site', async () => {
    const res = await tower.api.post(`${PULL}?site=edge&wait=false`, { image: 'ops/small:v1', to: 'ops/at-edge:v1' });
    assert.equal(res.status, 202, res.text);
    const location = res.headers.get('location') ?? '';
    assert.equal(location, `${PULLS}/${(res.body as PullRecord).id}?site=edge`);
    const done = await eventually('done at the site', async () => {
      const now = (await tower.api.get(location)).body as PullRecord;
      return now.state === 'done' && now;
    });
    assert.equal(done.result?.name, 'ops/at-edge:v1');
  });
});

describe('history', () => {
  it(`keeps the last ${HISTORY} finished pulls listed`, async () => {
    const ids: string[] = [];
    for (let i = 0; i <= HISTORY; i++) {
      const res = await tower.api.post(`${PULL}?wait=false`, { image: 'ops/small:v1', to: `ops/history:${i}` });
      assert.equal(res.status, 202, res.text);
      const id = (res.body as PullRecord).id;
      ids.push(id);
      await eventually(`pull ${i} done`, async () => (await record(tower.api, id)).state === 'done');
    }
    const listed = (await tower.api.get(`${PULLS}?keys=true`)).body as string[];
    assert.deepEqual(listed, ids.slice(1));
    assert.equal((await tower.api.get(`${PULLS}/${ids[0]}`)).status, 404);
  });
});
