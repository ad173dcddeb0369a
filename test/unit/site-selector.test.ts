// The site selector: what each term selects (Kubernetes' meaning, `name` for the site itself), every way a selector
// can fail to parse (a 400 naming the part and where it starts), label keys and values, and a property: any
// selector written from terms, with any spacing, parses back to those terms.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BerthError } from '../../src/errors.js';
import { labelKeyProblem, labelValueProblem, matches, namedSites, parseSelector, type Selectable, type SelectorTerm } from '../../src/sites/selector.js';

const sites: Selectable[] = [
  { name: 'edge-1', labels: { region: 'eu', tier: 'canary', 'example.com/gpu': 'a100' } },
  { name: 'edge-2', labels: { region: 'eu' } },
  { name: 'edge-3', labels: { region: 'us', tier: 'stable' } },
  { name: 'edge-4' },
];
const selected = (text: string) => sites.filter((s) => matches(parseSelector(text), s)).map((s) => s.name);

describe('site selector', () => {
  it('selects as each term says, every term holding', () => {
    const cases: [string, string[]][] = [
      ['*', ['edge-1', 'edge-2', 'edge-3', 'edge-4']],
      ['region=eu', ['edge-1', 'edge-2']],
      ['region==eu', ['edge-1', 'edge-2']],
      ['region!=eu', ['edge-3', 'edge-4']],
      ['region=eu,tier!=canary', ['edge-2']],
      ['tier', ['edge-1', 'edge-3']],
      ['!tier', ['edge-2', 'edge-4']],
      ['region in (eu, us)', ['edge-1', 'edge-2', 'edge-3']],
      ['region notin (us)', ['edge-1', 'edge-2', 'edge-4']],
      ['example.com/gpu', ['edge-1']],
      ['name=edge-3', ['edge-3']],
      ['name in (edge-2,edge-4)', ['edge-2', 'edge-4']],
      ['name!=edge-1,region=eu', ['edge-2']],
      ['name notin (edge-1, edge-2)', ['edge-3', 'edge-4']],
      ['  region = eu ,  tier  ', ['edge-1']],
      ['region=mars', []],
    ];
    for (const [text, names] of cases) assert.deepEqual(selected(text), names, text);
  });

  it('names the sites it names outright, to tell a typo from an empty selection', () => {
    assert.deepEqual(namedSites(parseSelector('name in (a, b),region=eu,name=c')), ['a', 'b', 'c']);
    assert.deepEqual(namedSites(parseSelector('name!=a,name notin (b)')), []);
  });

  it('refuses what does not parse with the part and where it starts', () => {
    const cases: [string, RegExp][] = [
      ['', /at character 1: is empty; '\*' selects every site/],
      ['   ', /is empty/],
      ['region=', /at character 8: expected a value after '=', found the end/],
      ['region!=', /expected a value after '!='/],
      ['=eu', /at character 1 \('=eu'\): expected a label key, found '='/],
      ['region=eu,', /at character 11: expected a label key, found the end/],
      ['region=eu tier=x', /at character 11 \('tier=x'\): expected ',' between terms, found 't'/],
      ['region in eu', /expected '\(' and a list of values/],
      ['region in (eu', /expected ',' or '\)' in the list of values/],
      ['region in ()', /expected a value, found '\)'/],
      ['region=e u', /expected ',' between terms, found 'u'/],
      ['region=-eu', /'-eu' is not a label value/],
      ['Bad_/key=x', /'Bad_\/key' is not a label key/],
      ['name=Edge-1', /'Edge-1' is not a site name/],
      ['!name', /'!name' selects nothing/],
      ['*,region=eu', /'\*' stands alone/],
      ['region=eu;tier=x', /expected ',' between terms, found ';'/],
      ['región=eu', /expected ',' between terms, found 'ó'|is not a label key/],
    ];
    for (const [text, pattern] of cases) {
      assert.throws(
        () => parseSelector(text),
        (e: unknown) => e instanceof BerthError && e.kind === 'invalid-input' && /^sites: selector '/.test(e.message) && pattern.test(e.message),
        text,
      );
    }
    assert.throws(() => parseSelector('region=', 'selector'), (e: unknown) => e instanceof BerthError && /^selector: selector 'region='/.test(e.message));
  });

  it('label keys and values: the Kubernetes syntax, `name` reserved', () => {
    for (const key of ['region', 'a', 'A.b-c_d', 'example.com/rack', 'x'.repeat(63), `${'p'.repeat(63)}.${'q'.repeat(63)}/n`]) assert.equal(labelKeyProblem(key), undefined, key);
    for (const key of ['name', '', '-a', 'a-', 'a b', 'x'.repeat(64), 'Example.com/rack', 'example.com/', '/rack', 'a/b/c', `${'p.'.repeat(127)}pp/n`]) assert.ok(labelKeyProblem(key), key);
    for (const value of ['eu', 'E.u-1_x', 'v'.repeat(63)]) assert.equal(labelValueProblem(value), undefined, value);
    for (const value of ['', '-eu', 'eu-', 'e u', 'v'.repeat(64), 'ü']) assert.ok(labelValueProblem(value), value);
  });

  it('any selector written from terms, with any spacing, parses back to those terms', () => {
    const word = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,6}[a-z0-9])?$/);
    const key = fc.oneof(word, fc.tuple(word, word).map(([p, n]) => `${p}.example.com/${n}`)).filter((k) => k !== 'name');
    const term: fc.Arbitrary<SelectorTerm> = fc.oneof(
      fc.record({ kind: fc.constantFrom('equals' as const, 'not-equals' as const), key, value: word }),
      fc.record({ kind: fc.constantFrom('in' as const, 'not-in' as const), key, values: fc.array(word, { minLength: 1, maxLength: 4 }) }),
      fc.record({ kind: fc.constantFrom('exists' as const, 'not-exists' as const), key }),
    );
    const space = fc.constantFrom('', ' ', '  ', '\t');
    const written = (t: SelectorTerm, s: string): string => {
      switch (t.kind) {
        case 'equals': return `${t.key}${s}=${s}${t.value}`;
        case 'not-equals': return `${t.key}${s}!=${s}${t.value}`;
        case 'in': return `${t.key} in${s}(${t.values.join(`${s},${s}`)})`;
        case 'not-in': return `${t.key} notin${s}(${t.values.join(`${s},${s}`)})`;
        case 'exists': return t.key;
        case 'not-exists': return `!${s}${t.key}`;
        default: return '*';
      }
    };
    fc.assert(
      fc.property(fc.array(term, { minLength: 1, maxLength: 5 }), space, (terms, s) => {
        const text = terms.map((t) => `${s}${written(t, s)}${s}`).join(',');
        assert.deepEqual(parseSelector(text).terms, terms.map((t) => ({ ...t })));
      }),
      { numRuns: 500 },
    );
  });
});
