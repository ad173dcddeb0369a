// Keyed merge patch: the RFC 7396 examples (Appendix A) word for word, keyed lists merged entry by entry on their
// key, inputs never modified, `__proto__` kept as data, and a property test against RFC 7396's own pseudocode.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mergePatch, type KeyedLists } from '../../src/patch/keyed-merge-patch.js';

const CREDENTIALS: KeyedLists = { credentials: 'repository' };

/** Freezes a value and everything in it, so a test fails loudly if mergePatch writes to its arguments. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

describe('RFC 7396 Appendix A, without keyed lists', () => {
  const examples: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, expected] of examples) {
    it(`${JSON.stringify(target)} + ${JSON.stringify(patch)} = ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(mergePatch(deepFreeze(structuredClone(target)), deepFreeze(structuredClone(patch))), expected);
    });
  }

  it('an absent target is treated as an empty object', () => {
    assert.deepEqual(mergePatch(undefined, { a: { b: null, c: 1 } }), { a: { c: 1 } });
  });

  it('a list that is not keyed is replaced as a whole, even when it is called like a keyed one elsewhere', () => {
    const target = { credentials: [{ repository: 'a', secret: 's' }] };
    assert.deepEqual(mergePatch(target, { credentials: [{ repository: 'b' }] }), { credentials: [{ repository: 'b' }] });
  });
});

describe('keyed lists', () => {
  const registry = () =>
    deepFreeze({
      address: 'r.example.com',
      credentials: [
        { repository: '*', vault: 'v', secret: 'a' },
        { repository: 'team/app', vault: 'v', secret: 'b' },
      ],
    });

  it('an entry with a known key is merged into that entry; the others stay, in their order', () => {
    const patched = mergePatch(registry(), { credentials: [{ repository: 'team/app', secret: 'c' }] }, CREDENTIALS);
    assert.deepEqual(patched, {
      address: 'r.example.com',
      credentials: [
        { repository: '*', vault: 'v', secret: 'a' },
        { repository: 'team/app', vault: 'v', secret: 'c' },
      ],
    });
  });

  it('an entry with a new key is appended', () => {
    const patched = mergePatch(registry(), { credentials: [{ repository: 'other', vault: 'w', secret: 'd' }] }, CREDENTIALS) as ReturnType<typeof registry>;
    assert.deepEqual(patched.credentials.map((c) => c.repository), ['*', 'team/app', 'other']);
    assert.deepEqual(patched.credentials[2], { repository: 'other', vault: 'w', secret: 'd' });
  });

  it('null inside an entry deletes that leaf of the entry only', () => {
    const patched = mergePatch(registry(), { credentials: [{ repository: '*', vault: null }] }, CREDENTIALS) as ReturnType<typeof registry>;
    assert.deepEqual(patched.credentials[0], { repository: '*', secret: 'a' });
    assert.deepEqual(patched.credentials[1], registry().credentials[1]);
  });

  it('null for the whole list deletes it; an empty list changes nothing', () => {
    assert.deepEqual(mergePatch(registry(), { credentials: null }, CREDENTIALS), { address: 'r.example.com' });
    assert.deepEqual(mergePatch(registry(), { credentials: [] }, CREDENTIALS), registry());
  });

  it('a list where there was none (or something else) starts from empty', () => {
    assert.deepEqual(mergePatch({ address: 'x' }, { credentials: [{ repository: 'a', secret: 's' }] }, CREDENTIALS), {
      address: 'x',
      credentials: [{ repository: 'a', secret: 's' }],
    });
    assert.deepEqual(mergePatch({ credentials: 'nonsense' }, { credentials: [{ repository: 'a' }] }, CREDENTIALS), { credentials: [{ repository: 'a' }] });
  });

  it('entries without the key, and entries that are not objects, are appended as they are', () => {
    const patched = mergePatch(registry(), { credentials: [{ secret: 'no-key' }, 7] }, CREDENTIALS) as { credentials: unknown[] };
    assert.deepEqual(patched.credentials.slice(2), [{ secret: 'no-key' }, 7]);
  });

  it('two patch entries with one key both merge into the same entry, in order', () => {
    const patched = mergePatch(registry(), { credentials: [{ repository: '*', secret: 'x' }, { repository: '*', vault: 'y' }] }, CREDENTIALS);
    assert.deepEqual((patched as ReturnType<typeof registry>).credentials[0], { repository: '*', vault: 'y', secret: 'x' });
  });

  it('keys compare exactly: no case folding, no type coercion', () => {
    const patched = mergePatch({ credentials: [{ repository: 'A' }, { repository: 1 }] }, { credentials: [{ repository: 'a' }, { repository: '1' }] }, CREDENTIALS);
    assert.deepEqual(patched, { credentials: [{ repository: 'A' }, { repository: 1 }, { repository: 'a' }, { repository: '1' }] });
  });

  it('a keyed list nested deeper is keyed as well', () => {
    const patched = mergePatch({ site: { credentials: [{ repository: 'a', secret: 's' }] } }, { site: { credentials: [{ repository: 'a', secret: 't' }] } }, CREDENTIALS);
    assert.deepEqual(patched, { site: { credentials: [{ repository: 'a', secret: 't' }] } });
  });

  it('neither argument is modified, and the result shares no patched object with them', () => {
    const target = registry();
    const patch = deepFreeze({ credentials: [{ repository: 'team/app', secret: 'z' }], 'override-address': 'm.example.com' });
    const patched = mergePatch(target, patch, CREDENTIALS) as { credentials: object[] };
    assert.deepEqual(target, registry());
    assert.notEqual(patched.credentials, target.credentials);
    assert.notEqual(patched.credentials[1], patch.credentials[0]);
  });
});

describe('hostile keys', () => {
  it('a __proto__ key in the patch is an own field of the result, never its prototype', () => {
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const patched = mergePatch({}, patch) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(patched), Object.prototype);
    assert.ok(Object.hasOwn(patched, '__proto__'));
    assert.deepEqual(Object.keys(patched).sort(), ['__proto__', 'a']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(patched.polluted, undefined);
  });

  it('a __proto__ key inside a keyed list entry stays data too', () => {
    const patch = JSON.parse('{"credentials": [{"repository": "a", "__proto__": {"secret": "s"}}]}') as unknown;
    const patched = mergePatch({}, patch, CREDENTIALS) as { credentials: Record<string, unknown>[] };
    const entry = patched.credentials[0]!;
    assert.equal(Object.getPrototypeOf(entry), Object.prototype);
    assert.equal(entry.secret, undefined);
  });

  it('constructor and toString are ordinary fields: not keyed lists, not inherited values', () => {
    const patched = mergePatch({}, { constructor: [{ repository: 'x' }], toString: { a: 1 } }, CREDENTIALS) as Record<string, unknown>;
    assert.deepEqual(patched.constructor, [{ repository: 'x' }]);
    assert.deepEqual(patched.toString, { a: 1 });
    assert.deepEqual(mergePatch({ a: 1 }, { hasOwnProperty: null }), { a: 1 });
  });
});

describe('property: without keyed lists it is exactly RFC 7396', () => {
  /** RFC 7396 section 2, MergePatch(Target, Patch), transcribed. */
  function reference(target: unknown, patch: unknown): unknown {
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isObject(patch)) return patch;
    const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
    for (const [name, value] of Object.entries(patch)) {
      if (value === null) delete result[name];
      else result[name] = reference(result[name], value);
    }
    return result;
  }
  // Keys from a small alphabet, so patches hit existing fields often.
  const json = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 3 }), tie('object'), fc.array(tie('value'), { maxLength: 3 })),
    object: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'credentials'), tie('value'), { maxKeys: 4 }),
  }));

  it('matches the reference on random documents', () => {
    fc.assert(
      fc.property(json.value, json.value, (target, patch) => {
        const expected = reference(structuredClone(target), structuredClone(patch));
        assert.deepEqual(mergePatch(deepFreeze(structuredClone(target)), deepFreeze(structuredClone(patch))), expected);
      }),
      { numRuns: 500 },
    );
  });

  it('with keyed lists, an entry of the target whose key the patch does not name is kept unchanged', () => {
    const entry = fc.record({ repository: fc.constantFrom('a', 'b', 'c', 'd'), secret: fc.string({ maxLength: 2 }) });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 5 }), fc.array(entry, { maxLength: 5 }), (target, patch) => {
        const unique = [...new Map(target.map((e) => [e.repository, e])).values()];
        const patched = mergePatch({ credentials: unique }, { credentials: patch }, CREDENTIALS) as { credentials: typeof unique };
        const named = new Set(patch.map((e) => e.repository));
        for (const kept of unique.filter((e) => !named.has(e.repository))) assert.ok(patched.credentials.some((e) => e.repository === kept.repository && e.secret === kept.secret));
        for (const repository of named) {
          const last = patch.filter((e) => e.repository === repository).at(-1)!;
          assert.equal(patched.credentials.filter((e) => e.repository === repository).length, 1);
          assert.equal(patched.credentials.find((e) => e.repository === repository)!.secret, last.secret);
        }
      }),
      { numRuns: 300 },
    );
  });
});
