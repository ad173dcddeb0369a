// The site registry's pure parsing: download Range and upload Content-Range headers, manifest documents,
// credentials from Basic/Bearer, and the shared/exclusive lock's ordering.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseContentRange, parseRangeHeader, uploadRangeHeader } from '../../src/registry/http/byte-ranges.js';
import { bearerCredential } from '../../src/registry/http/access.js';
import { parseManifestDocument } from '../../src/registry/manifest-document.js';
import { RegistryError } from '../../src/registry/registry-error.js';
import { SharedExclusiveLock } from '../../src/registry/storage/shared-exclusive-lock.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;

describe('registry byte ranges', () => {
  it('serves any in-bounds single range exactly as asked', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1e9 }), fc.nat(), fc.nat(), (size, a, b) => {
      const start = a % size;
      const end = start + (b % (size - start));
      assert.deepEqual(parseRangeHeader(`bytes=${start}-${end}`, size), { start, end });
    }));
  });

  it('clamps an end past the blob, takes suffixes, and answers unsatisfiable from the end on', () => {
    assert.deepEqual(parseRangeHeader('bytes=5-100', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=5-', 10), { start: 5, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=-3', 10), { start: 7, end: 9 });
    assert.deepEqual(parseRangeHeader('bytes=-30', 10), { start: 0, end: 9 });
    assert.equal(parseRangeHeader('bytes=10-', 10), 'unsatisfiable');
    assert.equal(parseRangeHeader('bytes=0-', 0), 'unsatisfiable');
  });

  it('ignores headers RFC 9110 lets a server ignore: malformed, reversed, several ranges', () => {
    for (const header of ['bytes=abc', 'bytes=9-3', 'bytes=0-1,3-4', 'items=0-1', 'bytes=-']) {
      assert.equal(parseRangeHeader(header, 10), undefined, header);
    }
  });

  it('reads upload Content-Range in the spec form and the lenient bytes forms, rejecting the rest', () => {
    assert.deepEqual(parseContentRange('0-99'), { start: 0, end: 99 });
    assert.deepEqual(parseContentRange('bytes 100-199/*'), { start: 100, end: 199 });
    assert.deepEqual(parseContentRange('bytes=100-199'), { start: 100, end: 199 });
    assert.equal(parseContentRange(undefined), undefined);
    for (const bad of ['100', '5-4', 'bytes x-y', '-5']) assert.equal(parseContentRange(bad), 'invalid', bad);
    assert.equal(uploadRangeHeader(0), '0-0');
    assert.equal(uploadRangeHeader(100), '0-99');
  });
});

describe('registry manifest documents', () => {
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest('a'), size: 10 };
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest('b'), size: 20 };
  const bytes = (doc: unknown) => Buffer.from(JSON.stringify(doc));

  it('parses an image manifest, taking its type from Content-Type, the mediaType field or its shape', () => {
    const doc = { schemaVersion: 2, config, layers: [layer] };
    for (const contentType of ['application/vnd.oci.image.manifest.v1+json; charset=utf-8', undefined, 'application/json']) {
      const parsed = parseManifestDocument(bytes(doc), contentType);
      assert.equal(parsed.kind, 'image');
      assert.equal(parsed.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.deepEqual(parsed.layers, [layer]);
      assert.equal(parsed.artifactType, config.mediaType);
    }
  });

  it('parses an index with platforms and a subject, and keeps a declared artifactType', () => {
    const doc = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      artifactType: 'application/vnd.example+type',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest('c'), size: 5, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }],
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest('d'), size: 7 },
    };
    const parsed = parseManifestDocument(bytes(doc), undefined);
    assert.equal(parsed.kind, 'index');
    assert.deepEqual(parsed.manifests[0]!.platform, { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.equal(parsed.subject!.digest, digest('d'));
    assert.equal(parsed.artifactType, 'application/vnd.example+type');
  });

  it('refuses a Content-Type that contradicts the mediaType field, bad descriptors and schema 1', () => {
    const cases: Array<[unknown, string | undefined]> = [
      [{ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [] }, 'application/vnd.docker.distribution.manifest.v2+json'],
      [{ schemaVersion: 2, config: { ...config, size: -1 }, layers: [] }, undefined],
      [{ schemaVersion: 2, config: { ...config, digest: 'sha256:short' }, layers: [] }, undefined],
      [{ schemaVersion: 2, config, layers: [{ ...layer, mediaType: 7 }] }, undefined],
      [{ schemaVersion: 2, config, layers: [], annotations: { a: 1 } }, undefined],
      [{ schemaVersion: 1, name: 'x', fsLayers: [] }, 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ];
    for (const [doc, contentType] of cases) {
      assert.throws(() => parseManifestDocument(bytes(doc), contentType), (e: unknown) => e instanceof RegistryError && e.code === 'MANIFEST_INVALID', JSON.stringify(doc));
    }
  });
});

describe('registry credentials', () => {
  it('turns Basic credentials into the bearer token they carry as password, whatever the username', () => {
    const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    assert.equal(bearerCredential(basic('x:tok:with:colons')), 'Bearer tok:with:colons');
    assert.equal(bearerCredential(basic(':tok')), 'Bearer tok');
    assert.equal(bearerCredential('bearer abc'), 'Bearer abc');
    assert.equal(bearerCredential(basic('user-only')), undefined);
    assert.equal(bearerCredential(basic('user:')), undefined);
    assert.equal(bearerCredential('Digest abc'), undefined);
    assert.equal(bearerCredential(undefined), undefined);
  });
});

describe('SharedExclusiveLock', () => {
  it('runs shared holders together, and an exclusive holder alone, in arrival order', async () => {
    const lock = new SharedExclusiveLock();
    const events: string[] = [];
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const a = lock.runShared(async () => { events.push('a+'); await firstHeld; events.push('a-'); });
    const b = lock.runShared(async () => { events.push('b+'); events.push('b-'); });
    const gc = lock.runExclusive(async () => { events.push('gc+'); events.push('gc-'); });
    const c = lock.runShared(async () => { events.push('c+'); events.push('c-'); });
    await Promise.resolve();
    releaseFirst();
    await Promise.all([a, b, gc, c]);
    assert.deepEqual(events, ['a+', 'b+', 'b-', 'a-', 'gc+', 'gc-', 'c+', 'c-']);
  });
});
