// Garbage collection of the site registry's blob store: unreferenced blobs go; referenced ones, ones an upload
// or pull in flight still needs, and fresh ones within the grace period stay.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSiteRegistry, type SiteRegistry, type SiteRegistryOptions } from '../../src/registry/index.js';
import { eventually } from '../helpers/eventually.js';
import { buildPlatformImage, sha256Digest, type TestPlatformImage } from '../helpers/skopeo.js';

const ociManifest = 'application/vnd.oci.image.manifest.v1+json';

describe('site registry garbage collection', () => {
  const dirs: string[] = [];
  const registries: SiteRegistry[] = [];
  let registry: SiteRegistry;
  let dataDir: string;

  async function open(options: Omit<SiteRegistryOptions, 'dataDir'> = {}): Promise<SiteRegistry> {
    const dir = mkdtempSync(join(tmpdir(), 'berth-registry-gc-'));
    dirs.push(dir);
    const r = await createSiteRegistry({ dataDir: dir, ...options });
    registries.push(r);
    return r;
  }

  async function pushImage(r: SiteRegistry, repository: string, image: TestPlatformImage, tag: string): Promise<void> {
    for (const blob of [image.config, ...image.layers]) await r.blobs.ingest(blob.digest, blob.bytes.length, [blob.bytes]);
    await r.putManifest(repository, tag, ociManifest, image.manifest.bytes);
  }

  const removed = (result: { removedBlobs: Array<{ digest: string }> }) => result.removedBlobs.map((b) => b.digest).sort();

  before(async () => {
    registry = await open();
    dataDir = dirs[0]!;
  });
  after(async () => {
    for (const r of registries) await r.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('removes an unreferenced blob and keeps every blob a manifest references', async () => {
    const image = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { gc: 'kept' });
    await pushImage(registry, 'gc/app', image, 'v1');
    const orphan = Buffer.from('nobody references me');
    await registry.blobs.ingest(sha256Digest(orphan), orphan.length, [orphan]);

    const result = await registry.collectGarbage({ gracePeriodMs: 0 });
    assert.deepEqual(removed(result), [sha256Digest(orphan)]);
    assert.equal(result.bytesFreed, orphan.length);
    assert.equal(await registry.blobs.has(sha256Digest(orphan)), false);
    for (const blob of [image.manifest, image.config, ...image.layers]) assert.equal(await registry.blobs.has(blob.digest), true, blob.mediaType);
    assert.equal((await registry.getManifest('gc/app', 'v1')).digest, image.manifest.digest);
  });

  it('keeps a fresh unreferenced blob within the grace period', async () => {
    const fresh = Buffer.from('just uploaded, manifest not pushed yet');
    await registry.blobs.ingest(sha256Digest(fresh), fresh.length, [fresh]);
    const result = await registry.collectGarbage({ gracePeriodMs: 60 * 60 * 1000 });
    assert.deepEqual(removed(result), []);
    assert.equal(await registry.blobs.has(sha256Digest(fresh)), true);
    await registry.collectGarbage({ gracePeriodMs: 0 });
    assert.equal(await registry.blobs.has(sha256Digest(fresh)), false);
  });

  it('keeps a blob that an ingest in flight expects, until that ingest ends', async () => {
    const bytes = Buffer.from('a layer being pulled a second time');
    await registry.blobs.ingest(sha256Digest(bytes), bytes.length, [bytes]);
    const writer = await registry.blobs.openWriter({ expectedDigest: sha256Digest(bytes) });
    await writer.write(bytes.subarray(0, 10));
    assert.deepEqual(removed(await registry.collectGarbage({ gracePeriodMs: 0 })), []);
    assert.equal(await registry.blobs.has(sha256Digest(bytes)), true);
    await writer.abort();
    assert.deepEqual(removed(await registry.collectGarbage({ gracePeriodMs: 0 })), [sha256Digest(bytes)]);
  });

  it('keeps the bytes of an upload in progress, which then completes', async () => {
    const bytes = Buffer.from('uploaded in two chunks across a garbage collection');
    const upload = await registry.startUpload('gc/uploading');
    await registry.appendToUpload('gc/uploading', upload.id, [bytes.subarray(0, 20)]);
    await registry.collectGarbage({ gracePeriodMs: 0 });
    assert.deepEqual(readdirSync(join(dataDir, 'uploads')), [upload.id]);
    await registry.appendToUpload('gc/uploading', upload.id, [bytes.subarray(20)], { start: 20 });
    const info = await registry.completeUpload('gc/uploading', upload.id, sha256Digest(bytes));
    assert.equal(info.digest, sha256Digest(bytes));
    assert.equal((await registry.statBlob('gc/uploading', info.digest)).size, bytes.length);
  });

  it('reclaims the blobs of a deleted image but not those another image still uses', async () => {
    const shared = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { gc: 'shared' });
    await pushImage(registry, 'gc/one', shared, 'v1');
    await pushImage(registry, 'gc/two', shared, 'v1');
    const alone = await buildPlatformImage({ os: 'linux', architecture: 'arm64' }, { gc: 'alone' });
    await pushImage(registry, 'gc/one', alone, 'v2');

    await registry.deleteImage('gc/one', alone.manifest.digest);
    await registry.deleteImage('gc/one', shared.manifest.digest);
    const result = removed(await registry.collectGarbage({ gracePeriodMs: 0 }));
    for (const blob of [alone.manifest, alone.config, ...alone.layers]) assert.ok(result.includes(blob.digest), `${blob.mediaType} reclaimed`);
    for (const blob of [shared.manifest, shared.config, ...shared.layers]) assert.ok(!result.includes(blob.digest), `${blob.mediaType} kept`);
    assert.equal((await registry.getManifest('gc/two', 'v1')).digest, shared.manifest.digest);
    assert.equal((await registry.statBlob('gc/two', shared.layers[0]!.digest)).digest, shared.layers[0]!.digest);
  });

  it('expires upload sessions that stayed idle past the timeout, at garbage collection and on a timer', async () => {
    const short = await open({ limits: { uploadIdleMs: 1 } });
    const uploads = join(dirs.at(-1)!, 'uploads');
    const upload = await short.startUpload('gc/idle');
    await short.appendToUpload('gc/idle', upload.id, [Buffer.from('then nothing more')]);
    await sleep(20);
    // Garbage collection expires it, unless the timer did first on a slow machine: gone either way.
    const result = await short.collectGarbage();
    assert.ok(result.expiredUploads <= 1);
    await assert.rejects(short.uploadProgress('gc/idle', upload.id), /unknown/);
    assert.deepEqual(readdirSync(uploads), []);

    // With no garbage collection and no other session starting, the timer alone ends an idle one.
    const idle = await short.startUpload('gc/idle');
    await short.appendToUpload('gc/idle', idle.id, [Buffer.from('abandoned')]);
    await eventually('the idle session expired by itself', async () => {
      await short.uploadProgress('gc/idle', idle.id).then(() => assert.fail('still open'), () => undefined);
      return readdirSync(uploads).length === 0;
    });
  });
});
