// ACL policies: parsing the HCL subset Vault policies use (`path "<glob>" { capabilities = [...] }`,
// the legacy `policy = "read"`, and the JSON form) into path rules. What the rules allow is acl.ts.

import { parseDurationSeconds } from './duration.js';
import { checkJsonLimits } from './json-limits.js';
import { badRequest } from './vault-error.js';

export const CAPABILITIES = [
  'create',
  'read',
  'update',
  'patch',
  'delete',
  'list',
  'sudo',
  'deny',
  'subscribe',
  'recover',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Legacy `policy = "..."` values and the capabilities Vault expands them to. */
const LEGACY_POLICIES = new Map<string, Capability[]>([
  ['deny', ['deny']],
  ['read', ['read', 'list']],
  ['write', ['create', 'read', 'update', 'patch', 'delete', 'list']],
  ['sudo', ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo']],
]);

/**
 * Path-block keys that narrow what a rule grants and that vault-dev does not enforce. A policy using
 * them is refused: accepting it would grant more than it says.
 */
const UNENFORCED_PATH_KEYS = new Set([
  'allowed_parameters',
  'denied_parameters',
  'required_parameters',
  'control_group',
  'mfa_methods',
]);

/** Beyond this, nested HCL or JSON in a policy is refused rather than parsed recursively. */
const MAX_POLICY_NESTING = 64;

export interface PathRule {
  path: string;
  capabilities: Capability[];
  /** min_wrapping_ttl or max_wrapping_ttl is set: Vault then allows only wrapped requests here. */
  wrappingRequired: boolean;
}

export interface Policy {
  name: string;
  raw: string;
  rules: PathRule[];
}

/** Parses policy text (HCL subset or JSON); throws a 400 VaultError on malformed input. */
export function parsePolicy(name: string, raw: string): Policy {
  let root: HclObject;
  try {
    if (raw.trimStart().startsWith('{')) {
      checkJsonLimits(raw);
      root = jsonToHcl(JSON.parse(raw), 0);
    } else {
      root = new HclParser(raw).parseBody(true, 0);
    }
  } catch (err) {
    // JSON.parse's SyntaxError as well as the HCL reader's.
    if (err instanceof PolicySyntaxError || err instanceof SyntaxError) {
      throw badRequest(`failed to parse policy: ${err.message}`);
    }
    throw err;
  }
  const rules: PathRule[] = [];
  for (const [key, values] of root) {
    if (key === 'name') continue;
    if (key !== 'path') throw badRequest(`failed to parse policy: invalid key "${key}"`);
    for (const value of values) {
      if (!(value instanceof Map)) throw badRequest('failed to parse policy: path must be a block');
      for (const [pathPattern, blocks] of value) {
        for (const block of blocks) rules.push(parsePathBlock(pathPattern, block));
      }
    }
  }
  return { name, raw, rules };
}

function parsePathBlock(pathPattern: string, block: HclValue): PathRule {
  const invalid = (what: string) => badRequest(`failed to parse policy: path "${pathPattern}": ${what}`);
  if (!(block instanceof Map)) throw invalid('must be a block');
  const path = pathPattern.startsWith('/') ? pathPattern.slice(1) : pathPattern;
  if (path.includes('+*')) throw invalid("invalid use of wildcards ('+*' is forbidden)");
  const capabilities = new Set<Capability>();
  const wrappingTtl = { min_wrapping_ttl: 0, max_wrapping_ttl: 0 };
  for (const [key, values] of block) {
    const value = values[values.length - 1];
    if (key === 'capabilities') {
      if (!Array.isArray(value)) throw invalid('capabilities must be a list');
      for (const cap of value) {
        if (typeof cap !== 'string' || !(CAPABILITIES as readonly string[]).includes(cap)) {
          throw invalid(`invalid capability "${String(cap)}"`);
        }
        capabilities.add(cap as Capability);
      }
    } else if (key === 'policy') {
      const expanded = typeof value === 'string' ? LEGACY_POLICIES.get(value) : undefined;
      if (!expanded) throw invalid(`invalid policy "${String(value)}"`);
      for (const cap of expanded) capabilities.add(cap);
    } else if (key === 'min_wrapping_ttl' || key === 'max_wrapping_ttl') {
      const seconds = typeof value === 'string' || typeof value === 'number' ? parseDurationSeconds(value) : undefined;
      if (seconds === undefined) throw invalid(`error parsing ${key}`);
      wrappingTtl[key] = seconds;
    } else if (UNENFORCED_PATH_KEYS.has(key)) {
      throw invalid(`vault-dev does not enforce "${key}"; write the policy without it`);
    } else {
      throw invalid(`invalid key "${key}"`);
    }
  }
  const { min_wrapping_ttl: min, max_wrapping_ttl: max } = wrappingTtl;
  if (min > 0 && max > 0 && max < min) throw invalid('max_wrapping_ttl cannot be less than min_wrapping_ttl');
  return {
    path,
    capabilities: capabilities.has('deny') ? ['deny'] : [...capabilities],
    wrappingRequired: min > 0 || max > 0,
  };
}

// ---- A small HCL reader: blocks, attributes, strings, numbers, booleans, lists. ----

/** Attribute or block name -> every value given for it (HCL allows repeats). */
type HclObject = Map<string, HclValue[]>;
type HclValue = string | number | boolean | HclValue[] | HclObject;

class PolicySyntaxError extends Error {}

function checkNesting(depth: number): void {
  if (depth > MAX_POLICY_NESTING) throw new PolicySyntaxError(`nested more than ${MAX_POLICY_NESTING} levels deep`);
}

type Token =
  | { kind: 'ident'; text: string; line: number }
  | { kind: 'string'; text: string; line: number }
  | { kind: 'number'; value: number; line: number }
  | { kind: 'punct'; text: '{' | '}' | '[' | ']' | '=' | ','; line: number }
  | { kind: 'eof'; line: number };

class HclParser {
  private readonly tokens: Token[];
  private index = 0;

  constructor(text: string) {
    this.tokens = tokenize(text);
  }

  /** A block body: `key = value`, `key "label" ... { body }`. */
  parseBody(topLevel: boolean, depth: number): HclObject {
    checkNesting(depth);
    const object: HclObject = new Map();
    for (;;) {
      const token = this.peek();
      if (token.kind === 'eof') {
        if (!topLevel) throw new PolicySyntaxError(`line ${token.line}: unexpected end of policy, missing "}"`);
        return object;
      }
      if (token.kind === 'punct' && token.text === '}') {
        if (topLevel) throw new PolicySyntaxError(`line ${token.line}: unexpected "}"`);
        return object;
      }
      if (token.kind === 'punct' && token.text === ',') {
        this.index++;
        continue;
      }
      if (token.kind !== 'ident' && token.kind !== 'string') {
        throw new PolicySyntaxError(`line ${token.line}: expected a key`);
      }
      this.index++;
      const key = token.text;
      const next = this.peek();
      if (next.kind === 'punct' && next.text === '=') {
        this.index++;
        push(object, key, this.parseValue(depth + 1));
      } else {
        push(object, key, this.parseLabelledBlock(depth + 1));
      }
    }
  }

  /** `"label" "label2" { body }` becomes nested maps keyed by the labels. */
  private parseLabelledBlock(depth: number): HclValue {
    checkNesting(depth);
    const token = this.next();
    if (token.kind === 'string' || token.kind === 'ident') {
      const inner: HclObject = new Map();
      push(inner, token.text, this.parseLabelledBlock(depth + 1));
      return inner;
    }
    if (token.kind === 'punct' && token.text === '{') {
      const body = this.parseBody(false, depth + 1);
      this.expect('}');
      return body;
    }
    throw new PolicySyntaxError(`line ${token.line}: expected "{" or "="`);
  }

  private parseValue(depth: number): HclValue {
    checkNesting(depth);
    const token = this.next();
    switch (token.kind) {
      case 'string':
        return token.text;
      case 'number':
        return token.value;
      case 'ident':
        if (token.text === 'true' || token.text === 'false') return token.text === 'true';
        throw new PolicySyntaxError(`line ${token.line}: unexpected "${token.text}"`);
      case 'punct':
        if (token.text === '[') return this.parseList(depth + 1);
        if (token.text === '{') {
          const body = this.parseBody(false, depth + 1);
          this.expect('}');
          return body;
        }
        throw new PolicySyntaxError(`line ${token.line}: unexpected "${token.text}"`);
      default:
        throw new PolicySyntaxError(`line ${token.line}: unexpected end of policy`);
    }
  }

  private parseList(depth: number): HclValue[] {
    const items: HclValue[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === 'punct' && token.text === ']') {
        this.index++;
        return items;
      }
      items.push(this.parseValue(depth));
      const after = this.peek();
      if (after.kind === 'punct' && after.text === ',') this.index++;
      else if (!(after.kind === 'punct' && after.text === ']')) {
        throw new PolicySyntaxError(`line ${after.line}: expected "," or "]"`);
      }
    }
  }

  private expect(text: '}' | ']'): void {
    const token = this.next();
    if (!(token.kind === 'punct' && token.text === text)) {
      throw new PolicySyntaxError(`line ${token.line}: expected "${text}"`);
    }
  }

  private peek(): Token {
    return this.tokens[this.index]!;
  }

  private next(): Token {
    const token = this.tokens[this.index]!;
    if (token.kind !== 'eof') this.index++;
    return token;
  }
}

function push(object: HclObject, key: string, value: HclValue): void {
  const values = object.get(key) ?? [];
  values.push(value);
  object.set(key, values);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) throw new PolicySyntaxError(`line ${line}: unterminated comment`);
      line += text.slice(i, end).split('\n').length - 1;
      i = end + 2;
    } else if ('{}[]=,'.includes(c)) {
      tokens.push({ kind: 'punct', text: c as '{' | '}' | '[' | ']' | '=' | ',', line });
      i++;
    } else if (c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length || text[i] === '\n') throw new PolicySyntaxError(`line ${line}: unterminated string`);
        const ch = text[i]!;
        if (ch === '"') break;
        if (ch === '\\') {
          const esc = text[i + 1];
          value += esc === 'n' ? '\n' : esc === 't' ? '\t' : (esc ?? '');
          i += 2;
        } else {
          value += ch;
          i++;
        }
      }
      i++;
      tokens.push({ kind: 'string', text: value, line });
    } else if (/[0-9-]/.test(c)) {
      const match = /^-?\d+(\.\d+)?/.exec(text.slice(i));
      if (!match) throw new PolicySyntaxError(`line ${line}: unexpected "${c}"`);
      tokens.push({ kind: 'number', value: Number(match[0]), line });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(text.slice(i))!;
      tokens.push({ kind: 'ident', text: match[0], line });
      i += match[0].length;
    } else {
      throw new PolicySyntaxError(`line ${line}: unexpected "${c}"`);
    }
  }
  tokens.push({ kind: 'eof', line });
  return tokens;
}

/** The JSON policy form, reshaped like the HCL reader's output. */
function jsonToHcl(value: unknown, depth: number): HclObject {
  checkNesting(depth);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PolicySyntaxError('policy JSON must be an object');
  }
  const object: HclObject = new Map();
  for (const [key, inner] of Object.entries(value)) push(object, key, jsonValue(inner, depth + 1));
  return object;
}

function jsonValue(value: unknown, depth: number): HclValue {
  checkNesting(depth);
  if (Array.isArray(value)) return value.map((item) => jsonValue(item, depth + 1));
  if (typeof value === 'object' && value !== null) return jsonToHcl(value, depth + 1);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  throw new PolicySyntaxError('unsupported JSON value in policy');
}
