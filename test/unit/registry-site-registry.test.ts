// The site registry's domain API (what /v1 state routes and the pull operation call): putManifest's presence
// checks and tagUpdated, the repository view with platforms and sizes, tag and image deletion, typed errors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../src/errors.js';
import { ManifestBlobUnknownError, RegistryError, createSiteRegistry, type SiteRegistry } from '../../src/registry/index.js';
import { buildPlatformImage, sha256Digest, type TestPlatformImage } from '../helpers/skopeo.js';
import { RegistryIndex } from '../../src/registry/storage/registry-index.js';

const ociManifest = 'application/vnd.oci.image.manifest.v1+json';
const ociIndex = 'application/vnd.oci.image.index.v1+json';

describe('SiteRegistry domain API', () => {
  let dataDir: string;
  let registry: SiteRegistry;

  async function ingestBlobs(image: TestPlatformImage): Promise<void> {
    for (const blob of [image.config, ...image.layers]) await registry.blobs.ingest(blob.digest, blob.bytes.length, [blob.bytes]);
  }

  const indexOf = (...images: TestPlatformImage[]) => Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: ociIndex,
    manifests: images.map((i) => ({ mediaType: ociManifest, digest: i.manifest.digest, size: i.manifest.bytes.length, platform: i.platform })),
  }));

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-site-registry-'));
    registry = await createSiteRegistry({ dataDir });
  });
  after(async () => {
    await registry.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a manifest whose blobs are not in the store, recording nothing', async () => {
    const image = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { missing: '1' });
    await assert.rejects(registry.putManifest('pulled/missing', 'v1', ociManifest, image.manifest.bytes), (e: unknown) => {
      assert.ok(e instanceof ManifestBlobUnknownError);
      assert.deepEqual([...e.missing].sort(), [image.config.digest, image.layers[0]!.digest].sort());
      return true;
    });
    await assert.rejects(registry.getRepository('pulled/missing'), (e: unknown) => e instanceof BerthError && e.kind === 'not-found');
  });

  it('reports tagUpdated: true for a new tag, false for the same manifest again, true when the tag moves', async () => {
    const first = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { version: '1' });
    const second = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { version: '2' });
    await ingestBlobs(first);
    await ingestBlobs(second);
    const a = await registry.putManifest('pulled/app', 'latest', ociManifest, first.manifest.bytes);
    assert.deepEqual([a.digest, a.tagUpdated], [first.manifest.digest, true]);
    const again = await registry.putManifest('pulled/app', 'latest', ociManifest, first.manifest.bytes);
    assert.equal(again.tagUpdated, false);
    const moved = await registry.putManifest('pulled/app', 'latest', ociManifest, second.manifest.bytes);
    assert.equal(moved.tagUpdated, true);
    const byDigest = await registry.putManifest('pulled/app', first.manifest.digest, ociManifest, first.manifest.bytes);
    assert.equal(byDigest.tagUpdated, false);
    assert.equal((await registry.statManifest('pulled/app', 'latest')).digest, second.manifest.digest);
  });

  it('records a single platform pulled out of an index with its source index digest', async () => {
    const arm = await buildPlatformImage({ os: 'linux', architecture: 'arm', variant: 'v7' }, { picked: 'arm' });
    await ingestBlobs(arm);
    const sourceIndexDigest = sha256Digest(Buffer.from('the remote index'));
    await registry.putManifest('pulled/picked', 'v1', ociManifest, arm.manifest.bytes, { sourceIndexDigest });
    const repo = await registry.getRepository('pulled/picked');
    assert.deepEqual(repo.tags.map((t) => ({ tag: t.tag, platforms: t.platforms, sourceIndexDigest: t.sourceIndexDigest })), [
      { tag: 'v1', platforms: ['linux/arm/v7'], sourceIndexDigest },
    ]);
  });

  it('lists repositories with each tag digest, media type, platforms and total size', async () => {
    const amd64 = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { multi: 'amd64' });
    const arm64 = await buildPlatformImage({ os: 'linux', architecture: 'arm64', variant: 'v8' }, { multi: 'arm64' });
    for (const image of [amd64, arm64]) {
      await ingestBlobs(image);
      await registry.putManifest('pulled/multi', image.manifest.digest, ociManifest, image.manifest.bytes);
    }
    const index = indexOf(amd64, arm64);
    const put = await registry.putManifest('pulled/multi', 'v2', ociIndex, index);
    assert.equal(put.mediaType, ociIndex);

    const repositories = await registry.listRepositories();
    assert.deepEqual(repositories.map((r) => r.name), ['pulled/app', 'pulled/multi', 'pulled/picked']);
    const multi = repositories.find((r) => r.name === 'pulled/multi')!;
    assert.equal(multi.tags.length, 1);
    const tag = multi.tags[0]!;
    assert.equal(tag.digest, sha256Digest(index));
    assert.equal(tag.mediaType, ociIndex);
    assert.deepEqual(tag.platforms, ['linux/amd64', 'linux/arm64/v8']);
    const expected = index.length + [amd64, arm64].flatMap((i) => [i.manifest, i.config, ...i.layers]).reduce((n, b) => n + b.bytes.length, 0);
    assert.equal(tag.size, expected);
    assert.match(tag.updatedAt, /^\d{4}-\d\d-\d\dT/);
  });

  it('deletes a tag, and answers not-found for a tag that is not there', async () => {
    const image = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { tags: 'x' });
    await ingestBlobs(image);
    await registry.putManifest('pulled/tags', 'a', ociManifest, image.manifest.bytes);
    await registry.putManifest('pulled/tags', 'b', ociManifest, image.manifest.bytes);
    await registry.deleteTag('pulled/tags', 'a');
    assert.deepEqual((await registry.getRepository('pulled/tags')).tags.map((t) => t.tag), ['b']);
    await assert.rejects(registry.deleteTag('pulled/tags', 'a'), (e: unknown) => e instanceof RegistryError && e.code === 'MANIFEST_UNKNOWN' && e.kind === 'not-found');
    // The manifest itself stays, reachable by digest.
    assert.equal((await registry.statManifest('pulled/tags', image.manifest.digest)).digest, image.manifest.digest);
  });

  it('deletes an image index together with its platform manifests that nothing else uses', async () => {
    const amd64 = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { cascade: 'amd64' });
    const arm64 = await buildPlatformImage({ os: 'linux', architecture: 'arm64' }, { cascade: 'arm64' });
    for (const image of [amd64, arm64]) {
      await ingestBlobs(image);
      await registry.putManifest('pulled/cascade', image.manifest.digest, ociManifest, image.manifest.bytes);
    }
    // arm64 is also tagged on its own, so it must survive the index's deletion.
    await registry.putManifest('pulled/cascade', 'arm64-only', ociManifest, arm64.manifest.bytes);
    const index = indexOf(amd64, arm64);
    await registry.putManifest('pulled/cascade', 'v1', ociIndex, index);
    await registry.deleteImage('pulled/cascade', sha256Digest(index));
    await assert.rejects(registry.statManifest('pulled/cascade', 'v1'), (e: unknown) => e instanceof RegistryError && e.code === 'MANIFEST_UNKNOWN');
    await assert.rejects(registry.statManifest('pulled/cascade', amd64.manifest.digest), (e: unknown) => e instanceof RegistryError && e.code === 'MANIFEST_UNKNOWN');
    assert.equal((await registry.statManifest('pulled/cascade', 'arm64-only')).digest, arm64.manifest.digest);
    await assert.rejects(registry.deleteImage('pulled/cascade', sha256Digest(index)), (e: unknown) => e instanceof BerthError && e.kind === 'not-found');
  });

  it('refuses to delete a manifest an index lists (either API), even when it is tagged itself; the index may go, and then it may', async () => {
    const amd64 = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { listed: 'amd64' });
    await ingestBlobs(amd64);
    await registry.putManifest('pulled/listed', 'amd64', ociManifest, amd64.manifest.bytes);
    const index = indexOf(amd64);
    await registry.putManifest('pulled/listed', 'v1', ociIndex, index);
    const listed = (e: unknown) => e instanceof RegistryError && e.status === 409 && e.detail?.index === sha256Digest(index);
    await assert.rejects(registry.deleteImage('pulled/listed', amd64.manifest.digest), listed);
    await assert.rejects(registry.deleteImage('pulled/listed', amd64.manifest.digest, { validateOnly: true }), listed);
    await assert.rejects(registry.deleteManifest('pulled/listed', amd64.manifest.digest), listed);
    assert.deepEqual((await registry.getRepository('pulled/listed')).tags.map((t) => t.platforms), [['linux/amd64'], ['linux/amd64']]);
    // A tag is no manifest: deleting the child's own tag is fine.
    await registry.deleteManifest('pulled/listed', 'amd64');
    await registry.deleteManifest('pulled/listed', sha256Digest(index));
    await registry.deleteImage('pulled/listed', amd64.manifest.digest);
    await assert.rejects(registry.statManifest('pulled/listed', amd64.manifest.digest), (e: unknown) => e instanceof RegistryError && e.code === 'MANIFEST_UNKNOWN');
  });

  it('records an index only while every manifest it lists is there, checked in the same transaction as the write', async () => {
    const amd64 = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { race: 'amd64' });
    const index = new RegistryIndex(join(dataDir, 'index.db'));
    try {
      const record = { repository: 'pulled/race', digest: sha256Digest(indexOf(amd64)), mediaType: ociIndex, size: 1, createdAt: new Date().toISOString() };
      const reference = { kind: 'manifest' as const, digest: amd64.manifest.digest, mediaType: ociManifest, size: amd64.manifest.bytes.length };
      assert.throws(() => index.recordManifest(record, [reference], ['v1'], record.createdAt), (e: unknown) => e instanceof ManifestBlobUnknownError);
      assert.equal(index.getManifest('pulled/race', record.digest), undefined);
    } finally {
      index.close();
    }
  });

  it('rejects invalid names, tags and manifests as invalid input', async () => {
    const isInvalid = (code: string) => (e: unknown) => e instanceof RegistryError && e.code === code && e.kind === 'invalid-input';
    await assert.rejects(registry.getRepository('Not/Valid'), isInvalid('NAME_INVALID'));
    await assert.rejects(registry.putManifest('ok/name', 'bad tag!', ociManifest, Buffer.from('{}')), isInvalid('MANIFEST_INVALID'));
    await assert.rejects(registry.putManifest('ok/name', 'v1', ociManifest, Buffer.from('[]')), isInvalid('MANIFEST_INVALID'));
    await assert.rejects(registry.putManifest('ok/name', 'v1', 'application/vnd.docker.distribution.manifest.v1+json', Buffer.from('{"schemaVersion":2}')), isInvalid('MANIFEST_INVALID'));
    await assert.rejects(registry.deleteImage('pulled/app', 'sha256:nothex'), isInvalid('DIGEST_INVALID'));
  });

  it('keeps the index across a reopen', async () => {
    const before = await registry.listRepositories();
    await registry.close();
    registry = await createSiteRegistry({ dataDir });
    assert.deepEqual(await registry.listRepositories(), before);
  });
});
