// ACL policies: parsing the HCL subset Vault policies use (`path "<glob>" { capabilities = [...] }`,
// the legacy `policy = "read"`, and the JSON form), and deciding what a set of policies allows,
// with Vault's matching rules (exact path first, then the most specific glob or `+` pattern).

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
const LEGACY_POLICIES: Record<string, Capability[]> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'patch', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo'],
};

/** Path-block keys Vault knows; vault-dev accepts the parameter and wrapping ones but does not enforce them. */
const IGNORED_PATH_KEYS = new Set([
  'allowed_parameters',
  'denied_parameters',
  'required_parameters',
  'min_wrapping_ttl',
  'max_wrapping_ttl',
  'control_group',
  'mfa_methods',
]);

export interface PathRule {
  path: string;
  capabilities: Capability[];
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
    root = raw.trimStart().startsWith('{') ? jsonToHcl(JSON.parse(raw)) : new HclParser(raw).parseBody(true);
  } catch (err) {
    if (err instanceof PolicySyntaxError) throw badRequest(`failed to parse policy: ${err.message}`);
    throw badRequest(`failed to parse policy: ${(err as Error).message}`);
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
  if (!(block instanceof Map)) throw badRequest(`failed to parse policy: path "${pathPattern}" must be a block`);
  const capabilities = new Set<Capability>();
  for (const [key, values] of block) {
    const value = values[values.length - 1];
    if (key === 'capabilities') {
      if (!Array.isArray(value)) throw badRequest(`path "${pathPattern}": capabilities must be a list`);
      for (const cap of value) {
        if (typeof cap !== 'string' || !(CAPABILITIES as readonly string[]).includes(cap)) {
          throw badRequest(`failed to parse policy: path "${pathPattern}": invalid capability "${String(cap)}"`);
        }
        capabilities.add(cap as Capability);
      }
    } else if (key === 'policy') {
      const expanded = typeof value === 'string' ? LEGACY_POLICIES[value] : undefined;
      if (!expanded) throw badRequest(`failed to parse policy: path "${pathPattern}": invalid policy "${String(value)}"`);
      for (const cap of expanded) capabilities.add(cap);
    } else if (!IGNORED_PATH_KEYS.has(key)) {
      throw badRequest(`failed to parse policy: path "${pathPattern}": invalid key "${key}"`);
    }
  }
  const path = pathPattern.startsWith('/') ? pathPattern.slice(1) : pathPattern;
  return { path, capabilities: capabilities.has('deny') ? ['deny'] : [...capabilities] };
}

/** What a token's policies allow. Rules for the same path in several policies are merged. */
export class Acl {
  private readonly exact = new Map<string, Set<Capability>>();
  private readonly patterns: CompiledPattern[] = [];

  constructor(
    policies: readonly Policy[],
    private readonly root: boolean,
  ) {
    const merged = new Map<string, Set<Capability>>();
    for (const policy of policies) {
      for (const rule of policy.rules) {
        const caps = merged.get(rule.path) ?? new Set<Capability>();
        for (const cap of rule.capabilities) caps.add(cap);
        merged.set(rule.path, caps);
      }
    }
    for (const [path, caps] of merged) {
      if (caps.has('deny')) {
        caps.clear();
        caps.add('deny');
      }
      if (path.endsWith('*') || path.split('/').includes('+')) this.patterns.push(compilePattern(path, caps));
      else this.exact.set(path, caps);
    }
  }

  allows(path: string, capability: Capability, needsSudo: boolean): boolean {
    if (this.root) return true;
    const caps = this.capabilitiesFor(path);
    if (!caps || caps.has('deny')) return false;
    return caps.has(capability) && (!needsSudo || caps.has('sudo'));
  }

  private capabilitiesFor(path: string): Set<Capability> | undefined {
    const exact = this.exact.get(path);
    if (exact) return exact;
    let best: CompiledPattern | undefined;
    for (const pattern of this.patterns) {
      if (!pattern.regex.test(path)) continue;
      if (!best || lowerPriority(best.path, pattern.path)) best = pattern;
    }
    return best?.capabilities;
  }
}

interface CompiledPattern {
  path: string;
  regex: RegExp;
  capabilities: Set<Capability>;
}

function compilePattern(path: string, capabilities: Set<Capability>): CompiledPattern {
  const glob = path.endsWith('*');
  const body = glob ? path.slice(0, -1) : path;
  const source = body
    .split('/')
    .map((segment) => (segment === '+' ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return { path, regex: new RegExp(`^${source}${glob ? '' : '$'}`), capabilities };
}

/** Vault's precedence between two matching patterns: is `a` less specific than `b`? */
function lowerPriority(a: string, b: string): boolean {
  const firstWildcard = (p: string) => {
    const positions = [p.indexOf('+'), p.indexOf('*')].filter((i) => i >= 0);
    return positions.length ? Math.min(...positions) : p.length;
  };
  const plusCount = (p: string) => p.split('/').filter((s) => s === '+').length;
  if (firstWildcard(a) !== firstWildcard(b)) return firstWildcard(a) < firstWildcard(b);
  if (a.endsWith('*') !== b.endsWith('*')) return a.endsWith('*');
  if (plusCount(a) !== plusCount(b)) return plusCount(a) > plusCount(b);
  if (a.length !== b.length) return a.length < b.length;
  return a < b;
}

// ---- A small HCL reader: blocks, attributes, strings, numbers, booleans, lists. ----

/** Attribute or block name -> every value given for it (HCL allows repeats). */
type HclObject = Map<string, HclValue[]>;
type HclValue = string | number | boolean | HclValue[] | HclObject;

class PolicySyntaxError extends Error {}

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
  parseBody(topLevel: boolean): HclObject {
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
        push(object, key, this.parseValue());
      } else {
        push(object, key, this.parseLabelledBlock());
      }
    }
  }

  /** `"label" "label2" { body }` becomes nested maps keyed by the labels. */
  private parseLabelledBlock(): HclValue {
    const token = this.next();
    if (token.kind === 'string' || token.kind === 'ident') {
      const inner: HclObject = new Map();
      push(inner, token.text, this.parseLabelledBlock());
      return inner;
    }
    if (token.kind === 'punct' && token.text === '{') {
      const body = this.parseBody(false);
      this.expect('}');
      return body;
    }
    throw new PolicySyntaxError(`line ${token.line}: expected "{" or "="`);
  }

  private parseValue(): HclValue {
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
        if (token.text === '[') return this.parseList();
        if (token.text === '{') {
          const body = this.parseBody(false);
          this.expect('}');
          return body;
        }
        throw new PolicySyntaxError(`line ${token.line}: unexpected "${token.text}"`);
      default:
        throw new PolicySyntaxError(`line ${token.line}: unexpected end of policy`);
    }
  }

  private parseList(): HclValue[] {
    const items: HclValue[] = [];
    for (;;) {
      const token = this.peek();
      if (token.kind === 'punct' && token.text === ']') {
        this.index++;
        return items;
      }
      items.push(this.parseValue());
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
function jsonToHcl(value: unknown): HclObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PolicySyntaxError('policy JSON must be an object');
  }
  const object: HclObject = new Map();
  for (const [key, inner] of Object.entries(value)) push(object, key, jsonValue(inner));
  return object;
}

function jsonValue(value: unknown): HclValue {
  if (Array.isArray(value)) return value.map(jsonValue);
  if (typeof value === 'object' && value !== null) return jsonToHcl(value);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  throw new PolicySyntaxError('unsupported JSON value in policy');
}
