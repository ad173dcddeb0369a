// Credential resolution: the source document's example word for word, and a property test against a brute-force
// reference on random credential lists and repository names.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { resolveCredentialEntry } from '../../src/image-registry/credential-resolution.js';
import type { RegistryCredentialRef } from '../../src/image-registry/remote-registry.js';

describe('the example of the API reference', () => {
  // - repository: "*"                                    vault: myvault  secret: a
  // - repository: avassa-public                          vault: myvault  secret: b
  // - repository: avassa-public/digital-assets-manager   vault: myvault  secret: c
  const credentials: RegistryCredentialRef[] = [
    { repository: '*', vault: 'myvault', secret: 'a' },
    { repository: 'avassa-public', vault: 'myvault', secret: 'b' },
    { repository: 'avassa-public/digital-assets-manager', vault: 'myvault', secret: 'c' },
  ];
  const secretFor = (repository: string) => resolveCredentialEntry(credentials, repository)?.secret;

  it('"secret b would be used for avassa-public/kettle-popper-manager as well as avassa-public/projector-operations"', () => {
    assert.equal(secretFor('avassa-public/kettle-popper-manager'), 'b');
    assert.equal(secretFor('avassa-public/projector-operations'), 'b');
  });
  it('"However for avassa-public/digital-assets-manager secret c would be used"', () => {
    assert.equal(secretFor('avassa-public/digital-assets-manager'), 'c');
  });
  it('"And for redis secret a would be used"', () => {
    assert.equal(secretFor('redis'), 'a');
  });
  it('"repository: avassa-public ... not for example for redis"', () => {
    const onlyPublic = [credentials[1]!];
    assert.equal(resolveCredentialEntry(onlyPublic, 'redis'), undefined);
    assert.equal(resolveCredentialEntry(onlyPublic, 'avassa-public/kettle-popper-manager')?.secret, 'b');
  });
  it('prefixes match on path-segment boundaries only', () => {
    assert.equal(secretFor('avassa-publicity/x'), 'a');
    assert.equal(secretFor('avassa-public'), 'b');
    assert.equal(secretFor('avassa-public/digital-assets-manager-2'), 'b');
    assert.equal(secretFor('avassa-public/digital-assets-manager/sub'), 'c');
  });
  it("the catalog ('*') uses the * entry, and nothing when there is none", () => {
    assert.equal(secretFor('*'), 'a');
    assert.equal(resolveCredentialEntry(credentials.slice(1), '*'), undefined);
  });
});

/** The definition, spelled out as slowly as possible: every entry that covers the repository, longest wins, `*` last. */
function bruteForce(entries: RegistryCredentialRef[], repository: string): RegistryCredentialRef | undefined {
  const segments = repository.split('/');
  const prefixes = new Set(segments.map((_, i) => segments.slice(0, i + 1).join('/')));
  const covering = entries.filter((e) => repository !== '*' && prefixes.has(e.repository));
  covering.sort((x, y) => y.repository.split('/').length - x.repository.split('/').length);
  return covering[0] ?? entries.find((e) => e.repository === '*');
}

describe('property: resolution equals the brute-force reference', () => {
  const segment = fc.constantFrom('a', 'b', 'ab', 'avassa-public', 'x1', 'redis', 'a.b', 'a_b');
  const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
  const entry = fc.record({ repository: fc.oneof({ weight: 1, arbitrary: fc.constant('*') }, { weight: 5, arbitrary: path }), vault: fc.constant('v'), secret: fc.string({ minLength: 1, maxLength: 4 }) });
  // Keys are unique in a valid configuration.
  const entries = fc.uniqueArray(entry, { selector: (e) => e.repository, maxLength: 8 });

  it('for random credential lists and repository names', () => {
    fc.assert(
      fc.property(entries, fc.oneof(path, fc.constant('*')), (list, repository) => {
        assert.deepEqual(resolveCredentialEntry(list, repository), bruteForce(list, repository));
      }),
      { numRuns: 5000 },
    );
  });
});
