// What pull-through asks of the site registry's storage, over a real SiteRegistry on disk: manifests stored before
// their blobs and marked as pull-through content; anything else storing them makes them kept; eviction under a
// budget takes the least recently pulled images first, never a kept image's blob, nothing in use, nothing kept by
// name, and only while over the budget. Plus the names mirrored content is stored under.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSiteRegistry, RegistryError, type SiteRegistry } from '../../src/registry/index.js';
import { mirrorAddressProblem, mirrorComponentOf, mirrorRepositoryOf, parseNamespace } from '../../src/image-registry/mirror/mirror-names.js';
import { sha256Digest, type TestBlob } from '../helpers/skopeo.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

const blob = (mediaType: string, bytes: Buffer): TestBlob => ({ digest: sha256Digest(bytes), mediaType, bytes });
const descriptor = (b: TestBlob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.bytes.length });
const layerOf = (size: number) => blob('application/vnd.oci.image.layer.v1.tar+gzip', randomBytes(size));

interface Image {
  manifest: TestBlob;
  blobs: TestBlob[];
}

function imageOf(seed: string, layers: TestBlob[]): Image {
  const config = blob('application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed, rootfs: { type: 'layers', diff_ids: [] } })));
  const manifest = blob(OCI_MANIFEST, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(config), layers: layers.map(descriptor) })));
  return { manifest, blobs: [config, ...layers] };
}

const bytesOf = (image: Image) => image.manifest.bytes.length + image.blobs.reduce((n, b) => n + b.bytes.length, 0);

describe('pull-through content in the site registry', () => {
  let dir: string;
  let registry: SiteRegistry;

  /** As pull-through stores an image: the manifest first, then the blobs as clients ask for them. */
  async function pullThrough(repository: string, tag: string, image: Image): Promise<void> {
    await registry.putManifest(repository, tag, OCI_MANIFEST, image.manifest.bytes, { pullThrough: true });
    for (const b of image.blobs) await registry.blobs.ingest(b.digest, b.bytes.length, [b.bytes]);
    registry.touchPullThrough(repository, image.manifest.digest);
    await sleep(2); // distinct pull times, so the order below is the order of the pulls
  }

  /** As a pull operation (or a push) stores an image: blobs first, then the manifest, kept. */
  async function keep(repository: string, tag: string, image: Image): Promise<void> {
    for (const b of image.blobs) await registry.blobs.ingest(b.digest, b.bytes.length, [b.bytes]);
    await registry.putManifest(repository, tag, OCI_MANIFEST, image.manifest.bytes);
  }

  const has = (b: TestBlob) => registry.blobs.has(b.digest);
  const used = async () => (await registry.storageUsage()).bytes;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-pull-through-'));
    registry = await createSiteRegistry({ dataDir: dir });
  });
  after(async () => {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores a pull-through manifest before its blobs; a pull that stores it too makes it kept', async () => {
    const image = imageOf('early', [layerOf(1000)]);
    await assert.rejects(registry.putManifest('early/app', 'v1', OCI_MANIFEST, image.manifest.bytes), (e: RegistryError) => e.code === 'MANIFEST_BLOB_UNKNOWN');
    await registry.putManifest('early/app', 'v1', OCI_MANIFEST, image.manifest.bytes, { pullThrough: true });
    assert.equal((await registry.statManifest('early/app', 'v1')).digest, image.manifest.digest);
    assert.equal(registry.pullThroughImageCount(), 1);
    await keep('early/app', 'v1', image);
    assert.equal(registry.pullThroughImageCount(), 0, 'stored by a pull: kept');
    // Pull-through storing it again does not make a kept manifest evictable.
    await registry.putManifest('early/app', 'v1', OCI_MANIFEST, image.manifest.bytes, { pullThrough: true });
    assert.equal(registry.pullThroughImageCount(), 0);
  });

  it('evicts least recently pulled first, only while over the budget, and never a blob a kept image references', async () => {
    const shared = layerOf(40_000);
    const kept = imageOf('kept', [shared]);
    const a = imageOf('a', [layerOf(50_000)]);
    const b = imageOf('b', [shared, layerOf(30_000)]);
    const c = imageOf('c', [layerOf(50_000)]);
    await keep('site/kept', 'v1', kept);
    await pullThrough('mirror.example/a', 'v1', a);
    await pullThrough('mirror.example/b', 'v1', b);
    await pullThrough('mirror.example/c', 'v1', c);
    // a is pulled again: b is now the least recently pulled, then c, then a.
    registry.touchPullThrough('mirror.example/a', a.manifest.digest);

    const within = await registry.evictPullThrough({ budgetBytes: await used(), keeps: () => false });
    assert.deepEqual(within.evicted, [], 'within the budget: nothing');

    // Freeing b alone (its own bytes, not the shared layer) is not enough; freeing c as well is.
    const bOwn = bytesOf(b) - shared.bytes.length;
    const budget = (await used()) - bOwn - 1;
    const result = await registry.evictPullThrough({ budgetBytes: budget, keeps: () => false });
    assert.deepEqual(result.evicted.map((e) => e.repository), ['mirror.example/b', 'mirror.example/c']);
    assert.deepEqual(result.evicted[0]!.tags, ['v1']);
    assert.equal(result.evicted[0]!.bytesFreed, bOwn);
    assert.equal(result.evicted[1]!.bytesFreed, bytesOf(c));
    assert.ok(result.usedBytesAfter <= budget && result.usedBytesAfter === (await used()));
    assert.equal(await has(shared), true, 'the layer a kept image references stays');
    for (const x of [b.blobs[2]!, b.manifest, ...c.blobs, c.manifest]) assert.equal(await has(x), false, `${x.mediaType} evicted`);
    for (const x of [a.manifest, ...a.blobs, kept.manifest, ...kept.blobs]) assert.equal(await has(x), true, `${x.mediaType} kept`);
    await assert.rejects(registry.statManifest('mirror.example/b', 'v1'), (e: RegistryError) => e.status === 404);
    assert.equal((await registry.statManifest('site/kept', 'v1')).digest, kept.manifest.digest);
    assert.equal((await registry.statManifest('mirror.example/a', 'v1')).digest, a.manifest.digest);

    // Down to nothing: a goes too; the kept image never.
    const all = await registry.evictPullThrough({ budgetBytes: 0, keeps: () => false });
    assert.deepEqual(all.evicted.map((e) => e.repository), ['mirror.example/a']);
    assert.ok(all.usedBytesAfter > 0);
    assert.equal((await registry.statManifest('site/kept', 'v1')).digest, kept.manifest.digest);
  });

  it('leaves images in use (a transfer or a client holds a blob) and repositories the policy keeps', async () => {
    const d = imageOf('d', [layerOf(20_000)]);
    const e = imageOf('e', [layerOf(20_000)]);
    const f = imageOf('f', [layerOf(20_000)]);
    await pullThrough('mirror.example/d', 'v1', d);
    await pullThrough('base.example/e', 'v1', e);
    await pullThrough('mirror.example/f', 'v1', f);
    const release = registry.blobs.hold([d.blobs[1]!.digest]);
    try {
      const result = await registry.evictPullThrough({ budgetBytes: 0, keeps: (repository) => repository.startsWith('base.example/') });
      assert.deepEqual(result.evicted.map((x) => x.repository), ['mirror.example/f']);
    } finally {
      release();
    }
    const next = await registry.evictPullThrough({ budgetBytes: 0, keeps: (repository) => repository.startsWith('base.example/') });
    assert.deepEqual(next.evicted.map((x) => x.repository), ['mirror.example/d']);
    assert.equal((await registry.statManifest('base.example/e', 'v1')).digest, e.manifest.digest);
  });

  it('never evicts an image desired at this site, by tag or by digest, even when pull-through stored it first', async () => {
    const byTag = imageOf('desired-tag', [layerOf(20_000)]);
    const byDigest = imageOf('desired-digest', [layerOf(20_000)]);
    const other = imageOf('undesired', [layerOf(20_000)]);
    await pullThrough('mirror.example/wanted', 'v1', byTag);
    await pullThrough('mirror.example/pinned', 'v1', byDigest);
    await pullThrough('mirror.example/other', 'v1', other);
    // Only these three are candidates here: what earlier cases left stays out of it.
    const mine = new Set(['mirror.example/wanted', 'mirror.example/pinned', 'mirror.example/other']);
    const keeps = (repository: string) => !mine.has(repository);
    registry.retain([
      { repository: 'mirror.example/wanted', tag: 'v1', by: "site-images 'edge'" },
      { repository: 'mirror.example/pinned', digest: byDigest.manifest.digest, by: "site-images 'edge'" },
    ]);
    try {
      const result = await registry.evictPullThrough({ budgetBytes: 0, keeps });
      assert.deepEqual(result.evicted.map((x) => x.repository), ['mirror.example/other'], 'only what no site wants');
      assert.equal((await registry.statManifest('mirror.example/wanted', 'v1')).digest, byTag.manifest.digest);
      assert.equal((await registry.statManifest('mirror.example/pinned', 'v1')).digest, byDigest.manifest.digest);
      for (const b of [...byTag.blobs, ...byDigest.blobs]) assert.ok(await has(b), `blob ${b.digest} of a desired image kept`);
    } finally {
      registry.retain([]);
    }
    // No longer desired: pull-through content like any other.
    const released = await registry.evictPullThrough({ budgetBytes: 0, keeps });
    assert.deepEqual(released.evicted.map((x) => x.repository).sort(), ['mirror.example/pinned', 'mirror.example/wanted']);
  });

  it('evicts an index with the platform manifests it brought, and keeps a platform manifest a kept tag points at', async () => {
    const before = registry.pullThroughImageCount();
    const amd = imageOf('amd', [layerOf(10_000)]);
    const arm = imageOf('arm', [layerOf(10_000)]);
    const index = blob(OCI_INDEX, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [descriptor(amd.manifest), descriptor(arm.manifest)] })));
    await registry.putManifest('mirror.example/multi', 'v1', OCI_INDEX, index.bytes, { pullThrough: true });
    for (const image of [amd, arm]) await registry.putManifest('mirror.example/multi', image.manifest.digest, OCI_MANIFEST, image.manifest.bytes, { pullThrough: true });
    for (const b of amd.blobs) await registry.blobs.ingest(b.digest, b.bytes.length, [b.bytes]);
    // Someone pulls the arm64 image by name into the same repository: that tag is kept.
    await keep('mirror.example/multi', 'arm', arm);
    assert.equal(registry.pullThroughImageCount(), before + 1, 'the index is the one image');
    const result = await registry.evictPullThrough({ budgetBytes: 0, keeps: (repository) => repository !== 'mirror.example/multi' });
    assert.deepEqual(result.evicted.map((x) => x.digest), [index.digest]);
    await assert.rejects(registry.statManifest('mirror.example/multi', amd.manifest.digest), (e: RegistryError) => e.status === 404);
    assert.equal(await has(amd.blobs[1]!), false);
    assert.equal((await registry.statManifest('mirror.example/multi', 'arm')).digest, arm.manifest.digest);
    for (const b of arm.blobs) assert.equal(await has(b), true);
  });
});

describe('names of mirrored content', () => {
  it('stores a registry with a port under host__port, as a repository name cannot hold a colon', () => {
    assert.equal(mirrorComponentOf('registry.example.com'), 'registry.example.com');
    assert.equal(mirrorComponentOf('127.0.0.1:5000'), '127.0.0.1__5000');
    assert.equal(mirrorRepositoryOf('registry.example.com:443', 'team/app'), 'registry.example.com__443/team/app');
    assert.throws(() => mirrorRepositoryOf('registry.example.com', 'a/'.repeat(130) + 'b'), (e: RegistryError) => e.code === 'NAME_INVALID');
  });

  it('mirrors only lowercase host names and IPv4 addresses', () => {
    assert.equal(mirrorAddressProblem('registry.example.com:5000'), undefined);
    assert.match(mirrorAddressProblem('Registry.example.com') ?? '', /lowercase/);
    assert.match(mirrorAddressProblem('[::1]:5000') ?? '', /IPv6/);
  });

  it('takes ns only as a registry address: anything else is a 400 and names no host to reach', () => {
    assert.equal(parseNamespace('registry.example.com:5000'), 'registry.example.com:5000');
    for (const bad of ['', 'a/b', 'http://x', 'x:99999', 'a b', 'x@y', '..', `${'a'.repeat(300)}.com`, 'x?y']) {
      assert.throws(() => parseNamespace(bad), (e: RegistryError) => e.code === 'NAME_INVALID' && e.status === 400, bad);
    }
  });
});
