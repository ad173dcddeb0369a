// The image reference grammar: what parses into which parts, and what is refused with invalid-input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isBerthError } from '../../src/errors.js';
import {
  formatImageReference,
  isValidRegistryAddress,
  manifestReferenceOf,
  parseImageReference,
  parseRepositoryReference,
  requireManifestReference,
} from '../../src/oci/index.js';

const SHA = `sha256:${'a'.repeat(64)}`;

const rejects = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: unknown) => isBerthError(e) && e.kind === 'invalid-input' && pattern.test(e.message));

describe('parseRepositoryReference (repo[:tag][@digest] on a known registry)', () => {
  it('splits repository, tag and digest', () => {
    assert.deepEqual(parseRepositoryReference('avassa-public/movie-theaters-demo/kettle-popper-manager:v1.0'), {
      repository: 'avassa-public/movie-theaters-demo/kettle-popper-manager',
      tag: 'v1.0',
    });
    assert.deepEqual(parseRepositoryReference('a/b'), { repository: 'a/b' });
    assert.deepEqual(parseRepositoryReference(`a/b@${SHA}`), { repository: 'a/b', digest: SHA });
    assert.deepEqual(parseRepositoryReference(`a/b:t@${SHA}`), { repository: 'a/b', tag: 't', digest: SHA });
  });

  it('keeps a dotted first component as part of the repository (no registry here)', () => {
    assert.deepEqual(parseRepositoryReference('example.com/app:1'), { repository: 'example.com/app', tag: '1' });
  });

  it('accepts the separators of the grammar: ., _, __ and runs of -', () => {
    for (const name of ['a.b', 'a_b', 'a__b', 'a-b', 'a---b', 'a0/b1.c_d__e--f']) {
      assert.equal(parseRepositoryReference(name).repository, name);
    }
  });

  it('refuses bad names, tags and digests with invalid-input naming the problem', () => {
    rejects(() => parseRepositoryReference('Upper/case'), /lowercase/);
    rejects(() => parseRepositoryReference('a//b'), /empty path component/);
    rejects(() => parseRepositoryReference('a/-b'), /not a valid repository path component/);
    rejects(() => parseRepositoryReference('a/b_'), /not a valid repository path component/);
    rejects(() => parseRepositoryReference('a/b___c'), /not a valid repository path component/);
    rejects(() => parseRepositoryReference('a:.tag'), /not a valid tag/);
    rejects(() => parseRepositoryReference(`a:${'t'.repeat(129)}`), /not a valid tag/);
    rejects(() => parseRepositoryReference('a@sha256:abc'), /not a digest/);
    rejects(() => parseRepositoryReference(`a@md5:${'a'.repeat(32)}`), /only sha256 and sha512/);
    rejects(() => parseRepositoryReference(''), /empty/);
    rejects(() => parseRepositoryReference(' a'), /spaces/);
    rejects(() => parseRepositoryReference(`${'a'.repeat(256)}`), /longer than 255/);
  });

  it('accepts a 128-character tag and sha512 digests', () => {
    assert.equal(parseRepositoryReference(`a:${'t'.repeat(128)}`).tag, 't'.repeat(128));
    const sha512 = `sha512:${'b'.repeat(128)}`;
    assert.equal(parseRepositoryReference(`a@${sha512}`).digest, sha512);
  });
});

describe('parseImageReference (full references)', () => {
  it('finds the registry the way Docker does: a dot, a colon or localhost in the first component', () => {
    assert.deepEqual(parseImageReference('registry.example.com:6000/team/app:v2'), {
      registry: 'registry.example.com:6000',
      repository: 'team/app',
      tag: 'v2',
    });
    assert.deepEqual(parseImageReference('localhost/app'), { registry: 'localhost', repository: 'app' });
    assert.deepEqual(parseImageReference('127.0.0.1:5000/app@' + SHA), { registry: '127.0.0.1:5000', repository: 'app', digest: SHA });
    assert.deepEqual(parseImageReference('[::1]:5000/app:1'), { registry: '[::1]:5000', repository: 'app', tag: '1' });
    assert.deepEqual(parseImageReference('team/app:1'), { repository: 'team/app', tag: '1' });
    assert.deepEqual(parseImageReference('app'), { repository: 'app' });
  });

  it('never takes a registry port for a tag', () => {
    assert.deepEqual(parseImageReference('host:5000/app'), { registry: 'host:5000', repository: 'app' });
  });

  it('refuses a bad registry', () => {
    rejects(() => parseImageReference('bad_host.com/app'), /not a valid registry/);
    rejects(() => parseImageReference('host.com:99999/app'), /not a valid registry/);
    rejects(() => parseImageReference('host.com:/app'), /not a valid registry/);
  });

  it('formats back what it parsed (property)', () => {
    const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/).filter((c) => c.length <= 30);
    const reference = fc.record(
      {
        registry: fc.constantFrom('registry.example.com', 'localhost:5000', '10.0.0.1:443', '[fe80::1]:5000'),
        repository: fc.array(component, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/')),
        tag: fc.stringMatching(/^[\w][\w.-]{0,20}$/),
        digest: fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`),
      },
      { requiredKeys: ['registry', 'repository'] },
    );
    fc.assert(fc.property(reference, (ref) => assert.deepEqual(parseImageReference(formatImageReference(ref)), { ...ref })));
  });
});

describe('manifest references', () => {
  it('uses the digest over the tag, and latest when neither is given', () => {
    assert.equal(manifestReferenceOf({ repository: 'a', tag: 't', digest: SHA }), SHA);
    assert.equal(manifestReferenceOf({ repository: 'a', tag: 't' }), 't');
    assert.equal(manifestReferenceOf({ repository: 'a' }), 'latest');
  });

  it('requireManifestReference takes tags and digests only', () => {
    assert.equal(requireManifestReference('v1.0'), 'v1.0');
    assert.equal(requireManifestReference(SHA), SHA);
    rejects(() => requireManifestReference('../etc'), /neither a tag nor a digest/);
    rejects(() => requireManifestReference('sha256:zz'), /not a digest/);
  });
});

describe('registry addresses', () => {
  it('are host[:port] with IPv6 in brackets', () => {
    for (const ok of ['registry.example.com', 'registry.example.com:6000', '127.0.0.1:5000', '[::1]:5000', '[fe80::1]', 'localhost']) {
      assert.equal(isValidRegistryAddress(ok), true, ok);
    }
    for (const bad of ['', 'https://x', 'x/y', '::1', '[::1', 'x:', 'x:y', 'x:70000', '-x.com', 'a..b']) {
      assert.equal(isValidRegistryAddress(bad), false, bad);
    }
  });
});
