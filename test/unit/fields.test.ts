// The RFC 8040 `fields` parameter: parsing into a selection tree (with the position of each syntax error), checking
// a selection against the contract's answer schemas, and applying it to single answers and lists.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkFields, parseFields, selectFields, type FieldSelection } from '../../src/http/fields.js';
import { componentSchema } from '../../src/contract/openapi.js';
import { BerthError } from '../../src/errors.js';

/** A selection as a plain object, to compare with deepEqual: `true` for a whole subtree. */
type Tree = { [name: string]: Tree | true };
const tree = (selection: FieldSelection): Tree =>
  Object.fromEntries([...selection].map(([name, sub]) => [name, sub === true ? true : tree(sub)]));

/** Asserts `fn` throws an invalid-input BerthError whose message matches `pattern`. */
function rejects(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BerthError, `expected a BerthError, got ${String(e)}`);
    assert.equal(e.kind, 'invalid-input');
    assert.match(e.message, pattern);
    return true;
  });
}

describe('parseFields', () => {
  it('the examples of RFC 8040 section 4.8.3 and of the API conventions', () => {
    assert.deepEqual(tree(parseFields('address;credentials(repository;secret)')), { address: true, credentials: { repository: true, secret: true } });
    assert.deepEqual(tree(parseFields('credentials/vault')), { credentials: { vault: true } });
    assert.deepEqual(tree(parseFields('modules-state/module(name;revision)')), { 'modules-state': { module: { name: true, revision: true } } });
  });

  it('`;` and `,` both separate; `/` descends; groups nest', () => {
    assert.deepEqual(tree(parseFields('a,b;c')), { a: true, b: true, c: true });
    assert.deepEqual(tree(parseFields('a/b/c')), { a: { b: { c: true } } });
    assert.deepEqual(tree(parseFields('a(b(c;d),e/f)')), { a: { b: { c: true, d: true }, e: { f: true } } });
    assert.deepEqual(tree(parseFields('a/b(c)')), { a: { b: { c: true } } });
  });

  it('paths to one node merge, and selecting a whole node wins over parts of it', () => {
    assert.deepEqual(tree(parseFields('a/b;a/c')), { a: { b: true, c: true } });
    assert.deepEqual(tree(parseFields('a(b);a(c(d))')), { a: { b: true, c: { d: true } } });
    assert.deepEqual(tree(parseFields('a/b;a')), { a: true });
    assert.deepEqual(tree(parseFields('a;a/b')), { a: true });
    assert.deepEqual(tree(parseFields('a;a')), { a: true });
  });

  it('names may hold letters, digits, `_`, `.` and `-` (not first)', () => {
    assert.deepEqual(tree(parseFields('override-address;ca-cert;_x.y-z9')), { 'override-address': true, 'ca-cert': true, '_x.y-z9': true });
  });

  it('each syntax error names what was expected and its 1-based position', () => {
    const cases: [string, RegExp][] = [
      ['', /expected a field name at position 1 of ''/],
      [';', /expected a field name at position 1/],
      ['a;', /expected a field name at position 3/],
      ['a,,b', /expected a field name at position 3/],
      ['a/', /expected a field name at position 3/],
      ['a//b', /expected a field name at position 3/],
      ['/a', /expected a field name at position 1/],
      ['a(', /expected a field name at position 3/],
      ['a()', /expected a field name at position 3/],
      ['a(b', /expected '\)' at position 4/],
      ['a(b;c', /expected '\)' at position 6/],
      ['(a)', /expected a field name at position 1/],
      ['a)', /unexpected '\)' at position 2/],
      ['a b', /unexpected ' ' at position 2/],
      ['a(b))', /unexpected '\)' at position 5/],
      ['1a', /expected a field name at position 1/],
      ['-a', /expected a field name at position 1/],
      ['a;%00', /expected a field name at position 3/],
      ['é', /expected a field name at position 1/],
      ['a\u0000', /unexpected '\u0000' at position 2/],
    ];
    for (const [text, pattern] of cases) {
      rejects(() => parseFields(text), pattern);
      rejects(() => parseFields(text), /^query parameter 'fields': /);
    }
  });

  it('nesting is bounded: 16 levels of groups parse, 17 do not', () => {
    const nested = (levels: number) => `${'a('.repeat(levels)}b${')'.repeat(levels)}`;
    assert.doesNotThrow(() => parseFields(nested(16)));
    rejects(() => parseFields(nested(17)), /nested too deeply/);
    rejects(() => parseFields('a('.repeat(10_000)), /nested too deeply/);
  });

  it('never throws anything but an invalid-input error, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', '/', ';', ',', '(', ')', ' ', '-', '1', '_'), maxLength: 30 }), (text) => {
        try {
          const selection = parseFields(text);
          assert.ok(selection.size > 0);
        } catch (e) {
          assert.ok(e instanceof BerthError && e.kind === 'invalid-input', String(e));
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('checkFields against the contract', () => {
  const registry = componentSchema('RemoteRegistryAnswer');
  const list = componentSchema('RemoteRegistryListAnswer');
  const state = componentSchema('RemoteRegistryState');

  it('accepts every field of the answer, nested ones through lists, on single answers and on lists', () => {
    for (const schema of [registry, list]) {
      for (const text of ['address', 'override-address;ca-cert', 'credentials', 'credentials/vault', 'address;credentials(repository;secret)']) {
        assert.doesNotThrow(() => checkFields(parseFields(text), schema), text);
      }
    }
    assert.doesNotThrow(() => checkFields(parseFields('revision;last-change;address'), state));
  });

  it('an unknown field is a 400 naming its whole path', () => {
    rejects(() => checkFields(parseFields('colour'), registry), /unknown field 'colour'/);
    rejects(() => checkFields(parseFields('credentials/nope'), registry), /unknown field 'credentials\/nope'/);
    rejects(() => checkFields(parseFields('credentials(repository;token)'), list), /unknown field 'credentials\/token'/);
    rejects(() => checkFields(parseFields('address/host'), registry), /unknown field 'address\/host'/);
    rejects(() => checkFields(parseFields('revision'), registry), /unknown field 'revision'/);
  });

  it('names of Object.prototype are unknown fields, not inherited schema properties', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'credentials/__proto__', 'credentials/constructor']) {
      rejects(() => checkFields(parseFields(name), registry), /unknown field/);
      rejects(() => checkFields(parseFields(name), list), /unknown field/);
    }
  });
});

describe('selectFields', () => {
  const entry = {
    address: 'r.example.com',
    'override-address': 'm.example.com',
    credentials: [
      { repository: '*', vault: 'v', secret: 'a' },
      { repository: 'x/y', vault: 'w', secret: 'b' },
    ],
  };

  it('keeps the selected fields only, descending into objects and into each entry of a list', () => {
    assert.deepEqual(selectFields(entry, parseFields('address')), { address: 'r.example.com' });
    assert.deepEqual(selectFields(entry, parseFields('credentials/vault')), { credentials: [{ vault: 'v' }, { vault: 'w' }] });
    assert.deepEqual(selectFields(entry, parseFields('address;credentials(repository;secret)')), {
      address: 'r.example.com',
      credentials: [
        { repository: '*', secret: 'a' },
        { repository: 'x/y', secret: 'b' },
      ],
    });
    assert.deepEqual(selectFields(entry, parseFields('credentials')), { credentials: entry.credentials });
  });

  it('applies to each entry of a list answer; absent fields are left out rather than null', () => {
    const answers = [entry, { address: 'plain.example.com' }];
    assert.deepEqual(selectFields(answers, parseFields('override-address;credentials/secret')), [
      { 'override-address': 'm.example.com', credentials: [{ secret: 'a' }, { secret: 'b' }] },
      {},
    ]);
  });

  it('scalars under a descending selection are returned as they are; the input is not modified', () => {
    const copy = structuredClone(entry);
    assert.deepEqual(selectFields(entry, parseFields('address/x')), { address: 'r.example.com' });
    assert.deepEqual(entry, copy);
  });

  it('a value with a __proto__ field yields it as data, never as the answer prototype', () => {
    const hostile = JSON.parse('{"__proto__": {"address": "evil"}, "address": "ok"}') as object;
    const selected = selectFields(hostile, parseFields('__proto__')) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(selected), Object.prototype);
    assert.equal(selected.address, undefined);
    assert.equal(JSON.stringify(selected), '{"__proto__":{"address":"evil"}}');
    assert.deepEqual(selectFields({ address: 'a' }, parseFields('constructor;toString')), {});
  });
});
