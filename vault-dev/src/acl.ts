// What a token's policies allow on a path, decided the way Vault's ACL does: an exact rule first
// (for a list, also the path without its trailing slash), else the highest-priority match among the
// longest `*` prefix rule and the `+` segment rules. `+` stands for exactly one segment, empty ones
// included (`a/+/b` matches `a//b`); a trailing `*` matches any rest. Rules for the same path in
// several policies are merged, and `deny` wins.

import type { Capability, PathRule, Policy } from './policy.js';

interface Permissions {
  capabilities: Set<Capability>;
  /** A min_wrapping_ttl or max_wrapping_ttl applies: Vault allows only wrapped requests, vault-dev wraps none. */
  wrappingRequired: boolean;
}

/** A rule with `+` segments: `segments` is the path split on `/`, a trailing `*` taken off. */
interface SegmentRule {
  path: string;
  segments: string[];
  isPrefix: boolean;
  permissions: Permissions;
}

/** A matching wildcard rule, with what Vault ranks matches by. */
interface Candidate {
  /** Position of the first `+`, or of the `*` of a prefix rule. */
  firstWildcard: number;
  isPrefix: boolean;
  wildcards: number;
  /** The rule's path without its trailing `*`. */
  body: string;
  permissions: Permissions;
}

/** Vault's rule: a path with a `+` segment is a segment rule; else a trailing `*` makes a prefix rule. */
export function hasSegmentWildcards(path: string): boolean {
  return path === '+' || path.includes('/+') || path.startsWith('+/');
}

export class Acl {
  private readonly exact = new Map<string, Permissions>();
  /** Prefix rules by the prefix before their `*`. */
  private readonly prefixes = new Map<string, Permissions>();
  private readonly segmentRules: SegmentRule[] = [];

  constructor(
    policies: readonly Policy[],
    private readonly root: boolean,
  ) {
    const segmentRules = new Map<string, Permissions>();
    for (const rule of policies.flatMap((policy) => policy.rules)) {
      let table = this.exact;
      let key = rule.path;
      if (hasSegmentWildcards(rule.path)) table = segmentRules;
      else if (rule.path.endsWith('*')) {
        table = this.prefixes;
        key = rule.path.slice(0, -1);
      }
      merge(table, key, rule);
    }
    for (const [path, permissions] of segmentRules) {
      const isPrefix = path.endsWith('*');
      this.segmentRules.push({ path, segments: (isPrefix ? path.slice(0, -1) : path).split('/'), isPrefix, permissions });
    }
  }

  /** Whether `capability` is granted on `path` (and sudo too when `needsSudo`). */
  allows(path: string, capability: Capability, needsSudo = false): boolean {
    if (this.root) return true;
    const permissions = this.permissionsFor(path, capability === 'list');
    if (!permissions || permissions.wrappingRequired) return false;
    const caps = permissions.capabilities;
    return !caps.has('deny') && caps.has(capability) && (!needsSudo || caps.has('sudo'));
  }

  /** Whether the rule deciding `path` grants sudo (Vault's "root privileges" on a path). */
  hasSudo(path: string, list: boolean): boolean {
    return this.root || (this.permissionsFor(path, list)?.capabilities.has('sudo') ?? false);
  }

  /** sys/capabilities-self's answer for one path: sorted capability names, `root`, or `deny`. */
  capabilities(path: string): string[] {
    if (this.root) return ['root'];
    const caps = this.permissionsFor(path, true)?.capabilities;
    if (!caps || caps.size === 0 || caps.has('deny')) return ['deny'];
    return [...caps].sort();
  }

  private permissionsFor(requestPath: string, list: boolean): Permissions | undefined {
    const path = requestPath.replace(/^\/+/, '');
    const exact = this.exact.get(path) ?? (list ? this.exact.get(trimOneSlash(path)) : undefined);
    if (exact) return exact;
    // A list of `a/b/` first tries the rules for `a/b`, so a more specific deny is not bypassed.
    if (list && path.endsWith('/')) {
      const withoutSlash = this.wildcardMatch(trimOneSlash(path));
      if (withoutSlash) return withoutSlash;
    }
    return this.wildcardMatch(path);
  }

  private wildcardMatch(path: string): Permissions | undefined {
    let best: Candidate | undefined;
    const consider = (candidate: Candidate) => {
      if (!best || lowerPriority(best, candidate)) best = candidate;
    };

    let longestPrefix: string | undefined;
    for (const prefix of this.prefixes.keys()) {
      if (path.startsWith(prefix) && (longestPrefix === undefined || prefix.length > longestPrefix.length)) {
        longestPrefix = prefix;
      }
    }
    if (longestPrefix !== undefined) {
      consider({
        firstWildcard: longestPrefix.length,
        isPrefix: true,
        wildcards: 0,
        body: longestPrefix,
        permissions: this.prefixes.get(longestPrefix)!,
      });
    }

    const parts = path.split('/');
    for (const rule of this.segmentRules) {
      const wildcards = segmentMatch(rule, parts);
      if (wildcards === undefined) continue;
      consider({
        firstWildcard: rule.path.indexOf('+'),
        isPrefix: rule.isPrefix,
        wildcards,
        body: rule.segments.join('/'),
        permissions: rule.permissions,
      });
    }
    return best?.permissions;
  }
}

/** The number of `+` segments when `rule` matches the path split into `parts`; undefined otherwise. */
function segmentMatch(rule: SegmentRule, parts: readonly string[]): number | undefined {
  const { segments, isPrefix } = rule;
  if (parts.length < segments.length || (!isPrefix && parts.length !== segments.length)) return undefined;
  let wildcards = 0;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if (segment === '+') wildcards++;
    else if (segment === part) continue;
    else if (!(isPrefix && i === segments.length - 1 && part.startsWith(segment))) return undefined;
  }
  return wildcards;
}

/**
 * Vault's ranking of two matching wildcard rules: is `a` below `b`? The later first wildcard wins,
 * then a rule without a trailing `*`, then fewer `+` segments, then the longer path, then the
 * lexically greater one.
 */
function lowerPriority(a: Candidate, b: Candidate): boolean {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard < b.firstWildcard;
  if (a.isPrefix !== b.isPrefix) return a.isPrefix;
  if (a.wildcards !== b.wildcards) return a.wildcards > b.wildcards;
  if (a.body.length !== b.body.length) return a.body.length < b.body.length;
  return a.body < b.body;
}

function merge(table: Map<string, Permissions>, key: string, rule: PathRule): void {
  const existing = table.get(key);
  const permissions: Permissions = existing ?? { capabilities: new Set(), wrappingRequired: false };
  if (permissions.capabilities.has('deny')) return;
  if (rule.capabilities.includes('deny')) permissions.capabilities = new Set(['deny']);
  else for (const cap of rule.capabilities) permissions.capabilities.add(cap);
  permissions.wrappingRequired ||= rule.wrappingRequired;
  table.set(key, permissions);
}

function trimOneSlash(path: string): string {
  return path.endsWith('/') ? path.slice(0, -1) : path;
}
