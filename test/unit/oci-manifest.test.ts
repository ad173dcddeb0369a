// The manifest model: parsing the four manifest types, refusing what is not a manifest, platform strings, digests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Digester,
  ManifestFormatError,
  MediaTypes,
  digestOf,
  formatPlatform as platformString,
  isAttestationManifest,
  parseDigest,
  parseManifest as parseAny,
} from '../../src/image-spec/index.js';

/** As the registry client reads what a remote served. */
const parseManifest = (bytes: Uint8Array, served?: string) => parseAny(bytes, served, { served: 'fetched' });

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'a'.repeat(64)}`, size: 1 };
const image = { schemaVersion: 2, config: { ...descriptor, mediaType: 'application/vnd.oci.image.config.v1+json' }, layers: [descriptor] };
const index = {
  schemaVersion: 2,
  manifests: [{ ...descriptor, mediaType: MediaTypes.ociManifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }],
};

describe('parseManifest', () => {
  it('takes the type the registry declared', () => {
    const parsed = parseManifest(json({ ...image, mediaType: MediaTypes.dockerManifest }), MediaTypes.dockerManifest);
    assert.equal(parsed.kind, 'image');
    assert.equal(parsed.mediaType, MediaTypes.dockerManifest);
    const list = parseManifest(json({ ...index, mediaType: MediaTypes.dockerManifestList }), MediaTypes.dockerManifestList);
    assert.equal(list.kind, 'index');
  });

  it('falls back to the document mediaType, then to its shape, when the declared type is generic', () => {
    assert.equal(parseManifest(json({ ...index, mediaType: MediaTypes.ociIndex }), 'application/json').mediaType, MediaTypes.ociIndex);
    assert.equal(parseManifest(json(index)).mediaType, MediaTypes.ociIndex);
    assert.equal(parseManifest(json(image)).mediaType, MediaTypes.ociManifest);
  });

  it('refuses what is not a usable manifest', () => {
    const refuses = (bytes: Buffer, pattern: RegExp, declared?: string) =>
      assert.throws(() => parseManifest(bytes, declared), (e: unknown) => e instanceof ManifestFormatError && pattern.test(e.message));
    refuses(Buffer.from('{not json'), /not valid JSON/);
    refuses(json([]), /not a JSON object/);
    refuses(json({ schemaVersion: 1, name: 'x' }), /schema 1/);
    refuses(json({ ...image, layers: 'x' }), /no layers/);
    refuses(json({ ...image, config: { ...descriptor, size: -1 } }), /config.size/);
    refuses(json({ ...index, manifests: [{ ...descriptor, digest: 'nope' }] }), /manifests\[0\].digest/);
    refuses(json({ ...index, mediaType: MediaTypes.ociIndex }), /declares .* but was served as/, MediaTypes.ociManifest);
  });
});

describe('platformString', () => {
  it('is os/arch[/variant], and unknown/unknown without a platform', () => {
    assert.equal(platformString({ os: 'linux', architecture: 'amd64' }), 'linux/amd64');
    assert.equal(platformString({ os: 'linux', architecture: 'arm64', variant: 'v8' }), 'linux/arm64/v8');
    assert.equal(platformString({ os: 'unknown', architecture: 'unknown' }), 'unknown/unknown');
    assert.equal(platformString(undefined), 'unknown/unknown');
  });

  it('recognises attestation manifests by their annotation', () => {
    const annotations = { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': descriptor.digest };
    assert.equal(isAttestationManifest({ ...descriptor, annotations }), true);
    assert.equal(isAttestationManifest(descriptor), false);
  });
});

describe('digests', () => {
  it('parses only canonical sha256/sha512 and computes them, whole or streamed', () => {
    assert.deepEqual(parseDigest(`sha256:${'a'.repeat(64)}`), { algorithm: 'sha256', encoded: 'a'.repeat(64) });
    assert.equal(parseDigest(`sha256:${'A'.repeat(64)}`), undefined);
    assert.equal(parseDigest(`sha256:${'a'.repeat(63)}`), undefined);
    assert.equal(parseDigest(`sha384:${'a'.repeat(96)}`), undefined);
    assert.equal(digestOf(Buffer.from('')), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const digester = new Digester('sha512');
    digester.update(Buffer.from('ab'));
    digester.update(Buffer.from('c'));
    assert.equal(digester.bytes, 3);
    assert.equal(digester.digest(), digestOf(Buffer.from('abc'), 'sha512'));
  });
});
