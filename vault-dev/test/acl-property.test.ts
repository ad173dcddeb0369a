// A property test of ACL matching: for random policies and request paths, Acl decides as a small
// reference of Vault's documented rules does. The reference is written from the documentation
// (the "Priority matching" list of Vault's policy concepts page), with regular expressions, not
// the segment walk acl.ts uses: an exact path wins; otherwise, among the patterns that match
// (`+` is exactly one path segment, empty ones included; a trailing `*` matches any rest), the one
// of highest priority decides, P1 being below P2 when
//   1. P1's first wildcard (`+`) or glob (`*`) comes earlier,
//   2. P1 ends in `*` and P2 does not,
//   3. P1 has more `+` segments,
//   4. P1 is shorter,
//   5. P1 is smaller lexicographically.
// Rules for the same pattern are merged, and `deny` takes precedence over any grant.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Acl } from '../src/acl.js';
import type { Capability, PathRule } from '../src/policy.js';

const CAPS: Capability[] = ['read', 'update', 'list', 'deny'];

function isWildcardPattern(pattern: string): boolean {
  return pattern.endsWith('*') || pattern.split('/').includes('+');
}

function patternRegex(pattern: string): RegExp {
  const glob = pattern.endsWith('*');
  const body = glob ? pattern.slice(0, -1) : pattern;
  const escaped = body
    .split('/')
    .map((segment) => (segment === '+' ? '[^/]*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}${glob ? '.*' : ''}$`);
}

/** Is `a` of lower priority than `b`, by the documented list. */
function documentedLowerPriority(a: string, b: string): boolean {
  const firstWildcard = (p: string) => Math.min(...[p.indexOf('+'), p.indexOf('*')].filter((i) => i >= 0));
  const plusSegments = (p: string) => p.split('/').filter((s) => s === '+').length;
  if (firstWildcard(a) !== firstWildcard(b)) return firstWildcard(a) < firstWildcard(b);
  if (a.endsWith('*') !== b.endsWith('*')) return a.endsWith('*');
  if (plusSegments(a) !== plusSegments(b)) return plusSegments(a) > plusSegments(b);
  if (a.length !== b.length) return a.length < b.length;
  return a < b;
}

function referenceAllows(rules: readonly PathRule[], path: string, capability: Capability): boolean {
  const merged = new Map<string, Set<Capability>>();
  for (const rule of rules) {
    const caps = merged.get(rule.path) ?? new Set<Capability>();
    for (const cap of rule.capabilities) caps.add(cap);
    merged.set(rule.path, caps.has('deny') ? new Set<Capability>(['deny']) : caps);
  }
  let decided = merged.get(path);
  if (!decided) {
    let best: string | undefined;
    for (const pattern of merged.keys()) {
      if (!isWildcardPattern(pattern) || !patternRegex(pattern).test(path)) continue;
      if (best === undefined || documentedLowerPriority(best, pattern)) best = pattern;
    }
    decided = best === undefined ? undefined : merged.get(best);
  }
  return decided !== undefined && !decided.has('deny') && decided.has(capability);
}

// Empty segments anywhere but first: Vault strips a leading slash from patterns and paths alike.
const firstSegment = fc.constantFrom('a', 'b', 'ab', '+');
const segment = fc.constantFrom('a', 'b', 'ab', '', '+');
const patternArb = fc
  .tuple(firstSegment, fc.array(segment, { maxLength: 3 }), fc.boolean())
  .map(([first, rest, glob]) => {
    const text = [first, ...rest].join('/');
    // `+*` is refused by the parser, so never generated.
    return glob && !text.endsWith('+') ? `${text}*` : text;
  });
const ruleArb: fc.Arbitrary<PathRule> = fc.record({
  path: patternArb,
  capabilities: fc.subarray(CAPS, { minLength: 1 }),
  wrappingRequired: fc.constant(false),
});
const pathArb = fc
  .tuple(fc.constantFrom('a', 'b', 'ab'), fc.array(fc.constantFrom('a', 'b', 'ab', 'abc', ''), { maxLength: 4 }))
  .map(([first, rest]) => [first, ...rest].join('/'));

describe('Acl against a reference of Vault\'s documented matching', () => {
  it('agrees on every random policy and path', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { minLength: 1, maxLength: 8 }), pathArb, fc.constantFrom<Capability>('read', 'update'), (rules, path, capability) => {
        const acl = new Acl([{ name: 'p', raw: '', rules }], false);
        assert.equal(acl.allows(path, capability), referenceAllows(rules, path, capability), JSON.stringify({ rules, path }));
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees on the cases of issue 18', () => {
    const rules: PathRule[] = [
      { path: 'secret/data/*', capabilities: ['create', 'update', 'read'], wrappingRequired: false },
      { path: 'secret/data/+/private', capabilities: ['deny'], wrappingRequired: false },
    ];
    const acl = new Acl([{ name: 'p', raw: '', rules }], false);
    for (const path of ['secret/data//private', 'secret/data/x/private', 'secret/data/x/public', 'secret/data/x/y/private']) {
      assert.equal(acl.allows(path, 'update'), referenceAllows(rules, path, 'update'), path);
    }
    assert.equal(acl.allows('secret/data//private', 'update'), false);
    assert.equal(acl.allows('secret/data/x/y/private', 'update'), true, '+ is one segment, not two');
  });
});
