// Site labels and the site selector: which sites a fan-out operation runs at and which sites a desired image is
// meant for. The grammar is Kubernetes' label selector (terms joined by `,`, all of which must hold), with the
// reserved key `name` standing for the site's own name, so explicit sites are selected the same way:
//
//   region=eu,tier!=canary        region is eu and tier is not canary (sites without a tier too)
//   region in (eu, us),gpu        region is eu or us, and the site has a gpu label
//   !decommissioned               sites without that label
//   name in (edge-1, edge-2)      exactly these sites;  name=edge-1 one of them
//   *                             every site
//
// Parsing is strict: a selector that does not parse is refused with the part that is wrong and where it starts.
import { invalidInput } from '../errors.js';

/** A label key: an optional DNS-subdomain prefix and `/`, then a name of 1 to 63 characters, as in Kubernetes. */
export const LABEL_KEY = /^(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label value: 1 to 63 letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit. */
export const LABEL_VALUE = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** The key selectors use for a site's name; no label may have it. */
export const NAME_KEY = 'name';
const SITE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_PREFIX_LENGTH = 253;

export type Labels = Record<string, string>;

/** What a selector is matched against: a site's name and labels. */
export interface Selectable {
  name: string;
  labels?: Labels | undefined;
}

export type SelectorTerm =
  | { kind: 'all' }
  | { kind: 'equals' | 'not-equals'; key: string; value: string }
  | { kind: 'in' | 'not-in'; key: string; values: string[] }
  | { kind: 'exists' | 'not-exists'; key: string };

export interface Selector {
  /** The selector as written, trimmed; shown back in answers. */
  text: string;
  terms: SelectorTerm[];
}

/** Why a label key is not usable, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  if (key === NAME_KEY) return `'${NAME_KEY}' is reserved: selectors use it for the site's own name`;
  const slash = key.lastIndexOf('/');
  if (slash > MAX_PREFIX_LENGTH) return `its prefix is longer than ${MAX_PREFIX_LENGTH} characters`;
  if (!LABEL_KEY.test(key)) return 'expected [prefix/]name: a name of 1 to 63 letters, digits, -, _ and . that starts and ends with a letter or digit, after an optional DNS subdomain and /';
  return undefined;
}

/** Why a label value is not usable, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  return LABEL_VALUE.test(value) ? undefined : 'expected 1 to 63 letters, digits, -, _ and . that start and end with a letter or digit';
}

class SelectorSyntaxError extends Error {
  constructor(
    readonly at: number,
    message: string,
  ) {
    super(message);
  }
}

/** A hand-written scanner: the grammar is small, and its errors must say where they are. */
class Scanner {
  position = 0;
  constructor(readonly text: string) {}

  skipSpace(): void {
    while (this.text[this.position] === ' ' || this.text[this.position] === '\t') this.position++;
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.position >= this.text.length;
  }

  peek(): string | undefined {
    this.skipSpace();
    return this.text[this.position];
  }

  take(literal: string): boolean {
    this.skipSpace();
    if (!this.text.startsWith(literal, this.position)) return false;
    this.position += literal.length;
    return true;
  }

  /** A run of characters that may form a key or a value (checked by the caller). */
  word(what: string): { word: string; at: number } {
    this.skipSpace();
    const at = this.position;
    const match = /^[A-Za-z0-9_./-]+/.exec(this.text.slice(at));
    if (!match) {
      const found = this.text[at];
      throw new SelectorSyntaxError(at, found === undefined ? `expected ${what}, found the end` : `expected ${what}, found '${found}'`);
    }
    this.position += match[0].length;
    return { word: match[0], at };
  }

  /** `in` or `notin` as a whole word. */
  keyword(): 'in' | 'not-in' | undefined {
    this.skipSpace();
    const match = /^(in|notin)(?=[\s(]|$)/.exec(this.text.slice(this.position));
    if (!match) return undefined;
    this.position += match[1]!.length;
    return match[1] === 'in' ? 'in' : 'not-in';
  }
}

function checkKey(key: string, at: number): void {
  if (key === NAME_KEY) return;
  const problem = labelKeyProblem(key);
  if (problem) throw new SelectorSyntaxError(at, `'${key}' is not a label key: ${problem}`);
}

function checkValue(key: string, value: string, at: number): void {
  if (key === NAME_KEY) {
    if (!SITE_NAME.test(value)) throw new SelectorSyntaxError(at, `'${value}' is not a site name (1 to 63 lowercase letters, digits and inner -)`);
    return;
  }
  const problem = labelValueProblem(value);
  if (problem) throw new SelectorSyntaxError(at, `'${value}' is not a label value: ${problem}`);
}

function valueList(scanner: Scanner, key: string): string[] {
  if (!scanner.take('(')) throw new SelectorSyntaxError(scanner.position, "expected '(' and a list of values");
  const values: string[] = [];
  for (;;) {
    const { word, at } = scanner.word('a value');
    checkValue(key, word, at);
    values.push(word);
    if (scanner.take(')')) return values;
    if (!scanner.take(',')) throw new SelectorSyntaxError(scanner.position, "expected ',' or ')' in the list of values");
  }
}

function term(scanner: Scanner): SelectorTerm {
  if (scanner.take('*')) return { kind: 'all' };
  if (scanner.take('!')) {
    const { word: key, at } = scanner.word('a label key after !');
    if (key === NAME_KEY) throw new SelectorSyntaxError(at, `'!${NAME_KEY}' selects nothing: every site has a name`);
    checkKey(key, at);
    return { kind: 'not-exists', key };
  }
  const { word: key, at } = scanner.word('a label key');
  checkKey(key, at);
  for (const [operator, kind] of [['!=', 'not-equals'], ['==', 'equals'], ['=', 'equals']] as const) {
    if (scanner.take(operator)) {
      const { word: value, at: valueAt } = scanner.word(`a value after '${operator}'`);
      checkValue(key, value, valueAt);
      return { kind, key, value };
    }
  }
  const set = scanner.keyword();
  if (set) return { kind: set, key, values: valueList(scanner, key) };
  return { kind: 'exists', key };
}

/** Parses `text`; a 400 naming `parameter` and the wrong part when it does not parse. */
export function parseSelector(text: string, parameter = 'sites'): Selector {
  const scanner = new Scanner(text);
  try {
    if (scanner.atEnd()) throw new SelectorSyntaxError(0, "is empty; '*' selects every site");
    const terms: SelectorTerm[] = [];
    for (;;) {
      terms.push(term(scanner));
      if (scanner.atEnd()) break;
      if (!scanner.take(',')) throw new SelectorSyntaxError(scanner.position, `expected ',' between terms, found '${scanner.peek()}'`);
    }
    if (terms.length > 1 && terms.some((t) => t.kind === 'all')) throw new SelectorSyntaxError(0, "'*' stands alone: it selects every site");
    return { text: text.trim(), terms };
  } catch (e) {
    if (!(e instanceof SelectorSyntaxError)) throw e;
    const rest = text.slice(e.at, e.at + 40);
    throw invalidInput(`${parameter}: selector '${text}' at character ${e.at + 1}${rest ? ` ('${rest}')` : ''}: ${e.message}`, {
      parameter,
      position: e.at + 1,
    });
  }
}

function holds(term: SelectorTerm, site: Selectable): boolean {
  if (term.kind === 'all') return true;
  const value = term.key === NAME_KEY ? site.name : site.labels?.[term.key];
  switch (term.kind) {
    case 'exists':
      return value !== undefined;
    case 'not-exists':
      return value === undefined;
    case 'equals':
      return value === term.value;
    case 'not-equals':
      return value !== term.value;
    case 'in':
      return value !== undefined && term.values.includes(value);
    case 'not-in':
      return value === undefined || !term.values.includes(value);
  }
}

export const matches = (selector: Selector, site: Selectable): boolean => selector.terms.every((t) => holds(t, site));

/** The site names a selector names outright (`name=x`, `name in (x, y)`), to tell a typo from an empty selection. */
export function namedSites(selector: Selector): string[] {
  return selector.terms.flatMap((t) => {
    if (t.kind === 'equals' && t.key === NAME_KEY) return [t.value];
    if (t.kind === 'in' && t.key === NAME_KEY) return t.values;
    return [];
  });
}
