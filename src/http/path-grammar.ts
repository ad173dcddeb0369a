// One path grammar for everything Berth serves. A path has exactly one spelling: no empty (`//`) or dot (`.`, `..`)
// segments, raw or encoded; no percent-encoding of a character that needs none (`%73ystem`, `%2e`); no trailing `/`
// outside /v2 (whose protocol has some); printable ASCII only. Other spellings are refused (400) before anything
// else runs, rather than rewritten: a rewrite must be mirrored by every part that reads the URL (validator, routers,
// `?site=` forwarding, logs), a refusal leaves one spelling for all of them. Paths are matched case-sensitively and
// strictly (app settings and every Router), and /v1 paths are resolved to exactly one operation of the contract
// before access control, so the role rules, `?site=` and the validator judge the operation, never a spelling.
import { Router, type RequestHandler } from 'express';
import { BerthError, invalidInput, notFound } from '../errors.js';
import type { OpenApiDocument } from '../contract/openapi.js';

/** The contract operation a /v1 request resolved to: its path template (e.g. `/v1/config/sites/{site-name}`) and method. */
export interface Operation {
  template: string;
  method: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    operation?: Operation;
    /** The operation's path parameters by the contract's names, percent-decoded (the path grammar made them decodable). */
    operationParameters?: Record<string, string>;
  }
}

/** A Router that matches as the app does: case-sensitively, and `/x/` is not `/x`. */
export const strictRouter = (): Router => Router({ caseSensitive: true, strict: true });

/** RFC 3986 unreserved characters: percent-encoding one of them is only another spelling of it. */
const UNRESERVED = /^[A-Za-z0-9._~-]$/;

/** A path of non-empty segments, none `.` or `..`, of printable ASCII without `%` (0x25) or `\` (0x5c). */
const PLAIN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[\x21-\x24\x26-\x2e\x30-\x5b\x5d-\x7e]+)+$/;

/**
 * Why `path` (the raw path, without the query) is not in canonical form, or undefined when it is.
 * `trailingSlash`: whether a last, empty segment is part of the grammar here (the /v2 protocol has `/v2/`).
 */
export function spellingProblem(path: string, options: { trailingSlash: boolean }): string | undefined {
  // Most paths pass at once (one regular expression, on every request): whatever PLAIN_PATH lets through, the whole
  // check lets through too (test/unit/path-grammar.test.ts); anything else gets the whole check.
  return PLAIN_PATH.test(path) ? undefined : spellingProblemInFull(path, options);
}

/** spellingProblem without its fast path. */
export function spellingProblemInFull(path: string, options: { trailingSlash: boolean }): string | undefined {
  if (!path.startsWith('/')) return 'must start with /';
  if (!/^[\x21-\x7e]*$/.test(path)) return 'holds a character that must be percent-encoded';
  // Some servers and proxies read `\` as `/`: it would be another spelling of a separator.
  if (path.includes('\\')) return "holds a '\\'";
  const segments = path.slice(1).split('/');
  for (const [index, segment] of segments.entries()) {
    const last = index === segments.length - 1;
    if (segment === '') {
      if (last && (options.trailingSlash || segments.length === 1)) continue;
      return last ? "ends in '/'; paths have no trailing slash" : "holds an empty segment ('//')";
    }
    for (const escape of segment.matchAll(/%(.{0,2})/g)) {
      const hex = escape[1]!;
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return 'holds a malformed percent-encoding';
      const character = String.fromCharCode(parseInt(hex, 16));
      if (UNRESERVED.test(character)) return `percent-encodes '${character}' (%${hex}), which is written as it is`;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return 'holds a percent-encoding that is not UTF-8';
    }
    // A parameter may hold an encoded `/` (repository names do): its parts obey the same rule.
    if (decoded.split('/').some((part) => part === '.' || part === '..')) return `holds a dot segment ('${segment}')`;
  }
  return undefined;
}

/** The raw path of a request, as the client sent it (the routers' `req.path` is relative to their mount point). */
const rawPathOf = (url: string) => {
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : url.slice(0, queryAt);
};

/** For every path outside /v2 (whose router applies the grammar in its own error format): 400 for another spelling. */
export const refuseOtherSpellings: RequestHandler = (req, _res, next) => {
  const path = rawPathOf(req.url);
  const problem = spellingProblem(path, { trailingSlash: false });
  next(problem ? invalidInput(`path '${path.slice(0, 200)}' ${problem}`, { path: path.slice(0, 200) }) : undefined);
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

interface CompiledPath {
  template: string;
  pattern: RegExp;
  /** The names of its path parameters, in the order of the pattern's groups; fewer first: a literal segment wins over a parameter. */
  parameters: string[];
  operations: Map<string, Operation>;
}

function compile(contract: OpenApiDocument): CompiledPath[] {
  return Object.entries(contract.paths as Record<string, Record<string, unknown>>)
    .map(([template, item]) => {
      const segments = template.split('/').map((s) => (/^\{[^}]+\}$/.test(s) ? '([^/]+)' : s.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&')));
      const operations = new Map<string, Operation>();
      for (const method of HTTP_METHODS) if (item[method]) operations.set(method.toUpperCase(), { template, method: method.toUpperCase() });
      const parameters = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      return { template, pattern: new RegExp(`^${segments.join('/')}$`), parameters, operations };
    })
    .sort((a, b) => a.parameters.length - b.parameters.length);
}

/** The first compiled path `path` matches, with the raw values of its parameters. */
function matchPath(paths: CompiledPath[], path: string): { compiled: CompiledPath; values: string[] } | undefined {
  for (const compiled of paths) {
    const match = compiled.pattern.exec(path);
    if (match) return { compiled, values: match.slice(1) };
  }
  return undefined;
}

/** What a /v1 path and method resolve to: one operation with its decoded parameters, or why none. */
export type Resolution =
  | { kind: 'operation'; operation: Operation; parameters: Record<string, string> }
  | { kind: 'no-path' }
  | { kind: 'no-method'; template: string; allowed: string[] };

/**
 * The contract's operations, matched exactly and case-sensitively. `path` is the raw path of a request whose spelling
 * passed `spellingProblem`, which let only UTF-8 percent-encodings through: its parameters decode.
 */
export function operationTable(contract: OpenApiDocument): (method: string, path: string) => Resolution {
  const paths = compile(contract);
  return (method, path) => {
    const found = matchPath(paths, path);
    if (!found) return { kind: 'no-path' };
    const { compiled, values } = found;
    const operation = compiled.operations.get(method);
    if (!operation) return { kind: 'no-method', template: compiled.template, allowed: [...compiled.operations.keys()] };
    return { kind: 'operation', operation, parameters: Object.fromEntries(compiled.parameters.map((name, i) => [name, decodeURIComponent(values[i]!)])) };
  };
}

/**
 * Mounted at /v1: resolves the request to one operation of the contract and sets `req.operation` and
 * `req.operationParameters`; 404 when no path of the contract matches, 405 (with Allow) when the path has no such method.
 */
export function resolveOperation(resolve: ReturnType<typeof operationTable>): RequestHandler {
  return (req, res, next) => {
    const path = rawPathOf(req.originalUrl);
    const resolution = resolve(req.method, path);
    switch (resolution.kind) {
      case 'no-path':
        return next(notFound(`no such resource: ${req.method} ${path.slice(0, 200)}`));
      case 'no-method':
        res.set('Allow', resolution.allowed.join(', '));
        return next(new BerthError('method-not-allowed', `method ${req.method} is not allowed on ${resolution.template}`));
      case 'operation':
        req.operation = resolution.operation;
        req.operationParameters = resolution.parameters;
        return next();
    }
  };
}
