// Platform names a pull accepts (`x86_64`, `aarch64`, `linux/arm64/v8`, Node's process.arch) and how they pick an
// entry out of an image index: aliases, default variants, attestation entries left out.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availablePlatforms, hostPlatform, parsePlatform, selectPlatform } from '../../src/image-registry/pull/platform.js';
import type { Descriptor } from '../../src/image-spec/index.js';

const entry = (digest: string, platform: Descriptor['platform'], annotations?: Record<string, string>): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${digest.repeat(64).slice(0, 64)}`,
  size: 500,
  ...(platform ? { platform } : {}),
  ...(annotations ? { annotations } : {}),
});

const amd64 = entry('a', { os: 'linux', architecture: 'amd64' });
const arm64 = entry('b', { os: 'linux', architecture: 'arm64', variant: 'v8' });
const armv6 = entry('c', { os: 'linux', architecture: 'arm', variant: 'v6' });
const armv7 = entry('d', { os: 'linux', architecture: 'arm', variant: 'v7' });
const attestation = entry('e', { os: 'unknown', architecture: 'unknown' }, {
  'vnd.docker.reference.type': 'attestation-manifest',
  'vnd.docker.reference.digest': amd64.digest,
});
const index = [amd64, attestation, arm64, armv6, armv7];

describe('pull platforms', () => {
  it('reads the names of the source document and the usual aliases', () => {
    assert.deepEqual(parsePlatform('x86_64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('aarch64'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(parsePlatform('arm64'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(parsePlatform('armv7l'), { os: 'linux', architecture: 'arm', variant: 'v7' });
    assert.deepEqual(parsePlatform('Linux/X86_64'), { os: 'linux', architecture: 'amd64' });
    assert.throws(() => parsePlatform('linux/arm64/v8/x'), /expected os\/architecture\[\/variant\]/);
    assert.throws(() => parsePlatform('linux//amd64'), /platform 'linux\/\/amd64'/);
  });

  it("maps Node's process.arch to the OCI names", () => {
    assert.deepEqual(hostPlatform('x64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(hostPlatform('arm64'), { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(hostPlatform('ia32'), { os: 'linux', architecture: '386' });
    assert.deepEqual(hostPlatform('ppc64'), { os: 'linux', architecture: 'ppc64le' });
    assert.deepEqual(hostPlatform('s390x'), { os: 'linux', architecture: 's390x' });
  });

  it('selects the entry for a platform, never an attestation', () => {
    assert.equal(selectPlatform(index, parsePlatform('x86_64')), amd64);
    assert.equal(selectPlatform(index, parsePlatform('aarch64')), arm64);
    assert.equal(selectPlatform(index, parsePlatform('linux/arm64/v8')), arm64);
    assert.equal(selectPlatform(index, parsePlatform('armv7')), armv7);
    assert.equal(selectPlatform(index, parsePlatform('linux/arm/v6')), armv6);
    assert.equal(selectPlatform(index, parsePlatform('riscv64')), undefined);
    assert.equal(selectPlatform(index, { os: 'unknown', architecture: 'unknown' }), undefined);
    assert.equal(selectPlatform(index, parsePlatform('windows/amd64')), undefined);
  });

  it('takes an arm64 entry without a variant as v8', () => {
    const plain = entry('f', { os: 'linux', architecture: 'arm64' });
    assert.equal(selectPlatform([plain], parsePlatform('linux/arm64/v8')), plain);
    assert.equal(selectPlatform([plain], parsePlatform('linux/arm64/v9')), undefined);
  });

  it('lists the runnable platforms of an index', () => {
    assert.deepEqual(availablePlatforms(index), ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v6', 'linux/arm/v7']);
  });
});
