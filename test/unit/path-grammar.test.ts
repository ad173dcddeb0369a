// The path grammar's fast path (path-grammar.ts): every path it lets through, the whole check lets through too, and
// the spellings the grammar refuses never take it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { spellingProblem, spellingProblemInFull } from '../../src/http/path-grammar.js';

/** Characters that make spellings differ: separators, dots, escapes, a backslash, controls, non-ASCII, plain letters. */
const tricky = fc.constantFrom('/', '.', '%', '2', 'e', 'E', 'f', 'F', 'a', 'z', '\\', ' ', '\x00', '\x7f', 'é', '~', '-', '_', ':', '?', '#', '@');
const paths = fc.oneof(
  fc.array(tricky, { maxLength: 24 }).map((chars) => chars.join('')),
  fc.array(tricky, { maxLength: 24 }).map((chars) => `/${chars.join('')}`),
  fc.array(fc.array(tricky, { maxLength: 6 }).map((c) => c.join('')), { maxLength: 6 }).map((segments) => `/${segments.join('/')}`),
);

describe('path grammar', () => {
  it('answers exactly as the whole check, for either trailing-slash rule', () => {
    fc.assert(
      fc.property(paths, fc.boolean(), (path, trailingSlash) => {
        assert.equal(spellingProblem(path, { trailingSlash }), spellingProblemInFull(path, { trailingSlash }), path);
      }),
      { numRuns: 20_000 },
    );
  });

  it('refuses the other spellings, whichever way it decides', () => {
    for (const path of ['/v1//a', '/v1/a/', '/v1/./a', '/v1/../a', '/v1/a/..', '/v1/%61', '/v1/%2e', '/v1/a\\b', '/v1/a b', '/v1/%zz', 'v1/a']) {
      assert.notEqual(spellingProblem(path, { trailingSlash: false }), undefined, path);
    }
    for (const path of ['/v1/config/image-registry/remote-registries', '/v1/a.b/..c/.d', '/v1/%2F', '/v1/a~b-c_d']) {
      assert.equal(spellingProblem(path, { trailingSlash: false }), undefined, path);
    }
  });
});
