// Every route in every spelling with every role, generated from the contract (each path x method of
// openapi/berth.yaml, and every /v2 route), against a real control tower with a secret store and one site (a recorder
// that notes what reaches it through `?site=`). A spelling other than the canonical one is refused before anything
// looks at it; the canonical one gets exactly what the role rules (written out here, on their own) say. Afterwards:
// no 5xx but the designed 502/503, no role escape, no error-level log line, nothing changed in the store or the site
// registry, and nothing reached the site that the tower should not have sent. Then the issue's cases by hand.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, Agent, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api } from '../helpers/api.js';
import { startVaultDev, type VaultDevInstance } from '../helpers/vault-dev.js';
import { registerSecretValue, vaultClient } from '../helpers/secret-values.js';
import { eventually } from '../helpers/eventually.js';
import { contract, validatorFor } from '../../src/contract/openapi.js';

const TARGET = 'target.example.com';
const DIGEST = `sha256:${'0'.repeat(64)}`;
const ROLES = ['anonymous', 'wrong', 'read', 'operator', 'admin', 'site', 'other-site'] as const;
type Caller = (typeof ROLES)[number];

let vault: VaultDevInstance;
let berth: BerthProcess;
let api: Api;
let site: Server;
const auth: Record<Caller, string | undefined> = { anonymous: undefined, wrong: 'Bearer berth_not-a-known-token-0123456789', read: '', operator: '', admin: '', site: '', 'other-site': '' };
const bearerOf: Record<string, string> = {};

/** What reached the site through the tower, by the X-Request-Id the test gave each request. */
const reachedSite = new Map<string, { method: string; url: string; authorization: string | undefined; body: string }>();

/** One request and what it must get. */
interface Case {
  id: string;
  label: string;
  method: string;
  path: string;
  caller: Caller;
  authorization?: string;
  body?: string;
  contentType?: string;
  /** Checks the answer; returns what is wrong, or undefined. */
  judge(answer: Answer): string | undefined;
  /** Set when the request must reach the site, as this method and path (the tower drops `site`). */
  forwardedAs?: { method: string; url: string };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

// Keep-alive to Berth, several requests at a time: thousands of requests in seconds, sent exactly as written.
const agent = new Agent({ keepAlive: true, maxSockets: 8 });
function send(c: Case): Promise<Answer> {
  const url = new URL(berth.url);
  const headers: Record<string, string> = { 'x-request-id': c.id, accept: 'application/json' };
  const authorization = c.authorization ?? auth[c.caller];
  if (authorization) headers.authorization = authorization;
  if (c.body !== undefined) {
    headers['content-type'] = c.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(c.body));
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: c.method, path: c.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(c.body);
  });
}

const counts = { sent: 0, v1: 0, v2: 0, spellings: 0 };
/** Sends every case (8 at a time) and reports every problem at once. */
async function runAll(cases: Case[]): Promise<void> {
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      let answer: Answer;
      try {
        answer = await send(c);
      } catch (e) {
        problems.push(`${c.label}: no answer: ${(e as Error).message}`);
        continue;
      }
      counts.sent++;
      const problem = universalProblem(answer) ?? c.judge(answer);
      if (problem) problems.push(`${c.label} [${c.caller}] ${c.method} ${c.path.slice(0, 140)} -> ${answer.status}: ${problem} ${answer.text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  // What reached the site: exactly the requests meant to, as the canonical request without `site`.
  for (const c of cases) {
    const reached = reachedSite.get(c.id);
    if (!c.forwardedAs && reached) problems.push(`${c.label} [${c.caller}] ${c.method} ${c.path}: reached the site as ${reached.method} ${reached.url}`);
    if (c.forwardedAs) {
      if (!reached) problems.push(`${c.label} [${c.caller}] ${c.method} ${c.path}: never reached the site`);
      else if (reached.method !== c.forwardedAs.method || reached.url !== c.forwardedAs.url) problems.push(`${c.label}: reached the site as ${reached.method} ${reached.url}`);
      else if (reached.body !== (c.body ?? '')) problems.push(`${c.label}: the site got another body: ${reached.body.slice(0, 100)}`);
      else if (reached.authorization !== `Bearer ${bearerOf.edgeAtSite}`) problems.push(`${c.label}: the site got another credential`);
    }
  }
  assert.deepEqual(problems.slice(0, 40), [], `${problems.length} of ${cases.length} requests were not answered as they must be`);
}

/** Rules every answer obeys: no 5xx but the designed 502/503, no secret in it. */
function universalProblem(answer: Answer): string | undefined {
  if (answer.status >= 500 && answer.status !== 502 && answer.status !== 503) return 'a 5xx that is no designed 502/503';
  for (const [name, value] of Object.entries(bearerOf)) if (value && answer.text.includes(value)) return `the ${name} token is in the answer`;
  if (answer.text.includes(vault.rootToken)) return 'the secret store token is in the answer';
  return undefined;
}

const errorMessageOf = (answer: Answer): string => {
  try {
    const body = JSON.parse(answer.text) as { errors?: { 'error-message'?: string; message?: string; code?: string }[] };
    const first = body.errors?.[0];
    return String(first?.['error-message'] ?? first?.code ?? '');
  } catch {
    return '';
  }
};

// ---------------------------------------------------------------------------------------------------------------
// The role rules, written out on their own (not imported): the oracle the implementation is held to.

/** A site's report: sent by that site's own token alone. */
const REPORT = '/v1/state/system/site-report';

function mayCall(caller: Caller, method: string, template: string, viaSite: boolean): boolean {
  const reading = method === 'GET';
  if (template === REPORT && caller !== 'site' && caller !== 'other-site') return false;
  // Tokens and the audit trail are for admins alone, reads included.
  const system = template.startsWith('/v1/config/system/') || template === '/v1/state/system/audit';
  switch (caller) {
    case 'admin':
      return true;
    case 'operator':
      return !system && (reading || (method === 'POST' && template.startsWith('/v1/state/')) || (method === 'DELETE' && template.startsWith('/v1/state/image-registry/repositories/')));
    case 'read':
      return reading && !system;
    case 'site':
    case 'other-site':
      return (reading && !viaSite && ['/v1/state/system/changes', '/v1/state/system/snapshot'].includes(template)) || (method === 'POST' && !viaSite && template === REPORT);
    default:
      return false;
  }
}

/** The registry actions of each caller on /v2 (the site allows anonymous pulls). */
const registryActions: Record<Caller, string[]> = {
  anonymous: ['pull'],
  wrong: [],
  read: ['pull'],
  operator: ['pull', 'push', 'delete'],
  admin: ['pull', 'push', 'delete'],
  site: [],
  'other-site': [],
};

// ---------------------------------------------------------------------------------------------------------------
// Requests from the contract.

type OperationObject = { parameters?: { $ref?: string; in?: string; name?: string }[]; requestBody?: { content: Record<string, { schema: { $ref: string } }> } };
const sharedParameters = (contract.components as unknown as { parameters: Record<string, { in: string; name: string }> }).parameters;
const queryOf = (item: Record<string, unknown>, operation: OperationObject) =>
  [...((item.parameters as OperationObject['parameters']) ?? []), ...(operation.parameters ?? [])]
    .map((p) => (p.$ref ? sharedParameters[p.$ref.split('/').pop()!]! : p))
    .filter((p) => p.in === 'query')
    .map((p) => p.name!);

const PATH_VALUES: Record<string, string> = {
  'remote-registry-address': TARGET,
  'site-name': 'edge',
  'token-name': 'hostile-read',
  'site-images-name': 'edge-images',
  'repository-name': 'team%2Fapp',
  tag: 'v1',
  digest: DIGEST,
};

/** A valid body per request schema (checked against the contract below): allowed callers get past validation. */
const BODIES: Record<string, unknown> = {
  RemoteRegistry: { address: 'new.example.com' },
  'RemoteRegistry PUT': { address: TARGET, 'override-address': '127.0.0.1:9' },
  RemoteRegistryPatch: { 'override-address': '127.0.0.1:9' },
  PullRequest: { image: 'team/app:v1' },
  PullByReferenceRequest: { image: `${TARGET}/team/app:v1` },
  GarbageCollectionRequest: { 'grace-period-seconds': 3600 },
  VerifyCredentialsRequest: { image: 'team/app:v1' },
  ListRepositoriesRequest: {},
  ListImagesRequest: { repository: 'team/app' },
  Site: { name: 'new-site', 'api-url': 'https://new-site.example.com', vault: 'site-tokens', secret: 'new-site' },
  'Site PUT': { name: 'edge', 'api-url': 'https://edge.example.com', vault: 'site-tokens', secret: 'edge' },
  SitePatch: { 'api-url': 'https://edge.example.com' },
  TokenRequest: { name: 'new-token', role: 'read' },
  SiteRetention: { 'budget-bytes': 1_000_000, sites: [{ name: 'edge', 'budget-bytes': 500_000 }] },
  SiteRetentionPatch: { 'interval-seconds': 60 },
  SiteImages: { name: 'new-images', sites: 'region=eu', images: [{ image: `${TARGET}/team/app:v1` }] },
  'SiteImages PUT': { name: 'edge-images', sites: 'name=edge', images: [{ image: `${TARGET}/team/app:v1`, to: 'team/app:edge' }] },
  SiteImagesPatch: { sites: 'name=edge' },
  SiteReport: { 'site-images': [] },
};

interface Operation {
  method: string;
  template: string;
  path: string;
  query: string[];
  body?: string;
}

function operations(): { operations: Operation[]; undeclared: Operation[] } {
  const result: Operation[] = [];
  const undeclared: Operation[] = [];
  for (const [template, item] of Object.entries(contract.paths as Record<string, Record<string, unknown>>)) {
    const path = template.replace(/\{([^}]+)\}/g, (_, name: string) => PATH_VALUES[name]!);
    for (const method of ['get', 'post', 'put', 'patch', 'delete', 'head']) {
      const operation = item[method] as OperationObject | undefined;
      if (!operation) {
        undeclared.push({ method: method.toUpperCase(), template, path, query: [] });
        continue;
      }
      const query = queryOf(item, operation);
      let body: string | undefined;
      const schemaRef = operation.requestBody?.content['application/json']?.schema.$ref;
      if (schemaRef) {
        const name = schemaRef.split('/').pop()!;
        const value = BODIES[`${name} ${method.toUpperCase()}`] ?? BODIES[name];
        assert.ok(value !== undefined, `no sample body for ${name}`);
        assert.ok(validatorFor(schemaRef)(value), `the sample body for ${name} does not match the contract`);
        body = JSON.stringify(value);
      }
      result.push({ method: method.toUpperCase(), template, path, query, ...(body !== undefined ? { body } : {}) });
    }
  }
  return { operations: result, undeclared };
}

/** The query a request sends: validate=true on writes that take it (so nothing is written), no long-poll. */
function canonicalQuery(op: Operation): string[] {
  const query: string[] = [];
  if (op.method !== 'GET' && op.query.includes('validate')) query.push('validate=true');
  if (op.template === '/v1/state/system/changes') query.push('after=0', 'wait=0');
  return query;
}

const withQuery = (path: string, query: string[]) => (query.length > 0 ? `${path}?${query.join('&')}` : path);

/** Other spellings of a canonical /v1 or /v2 path; `statics` says which segments are literal (not parameters). */
function otherSpellings(path: string, statics: boolean[]): { name: string; path: string }[] {
  const segments = path.split('/'); // ['', 'v1', 'config', ...]
  const rest = (from: number) => segments.slice(from).join('/');
  const first = segments[2] ?? '';
  const lastStatic = statics.lastIndexOf(true);
  const upper = (index: number) => segments.map((s, i) => (i === index ? s.toUpperCase() : s)).join('/');
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
  const spellings = [
    { name: 'upper-case root', path: upper(1) },
    { name: 'upper-case first segment', path: upper(2) },
    { name: 'upper-case last literal segment', path: upper(lastStatic) },
    { name: 'mixed case', path: segments.map((s, i) => (statics[i] && s.length > 1 ? s[0]!.toUpperCase() + s.slice(1) : s)).join('/') },
    { name: 'trailing slash', path: `${path}/` },
    { name: 'double slash after the root', path: `/${segments[1]}//${rest(2)}` },
    { name: 'double slash before the last segment', path: `${segments.slice(0, -1).join('/')}//${segments.at(-1)}` },
    { name: 'encoded slash', path: `/${segments[1]}/${first}%2F${rest(3)}` },
    { name: 'encoded slash, lower case', path: `/${segments[1]}/${first}%2f${rest(3)}` },
    { name: 'encoded letter', path: `/${segments[1]}/${hex(first[0] ?? 'x')}${first.slice(1)}/${rest(3)}` },
    { name: 'encoded letter, lower-case hex', path: `/${segments[1]}/${hex(first[0] ?? 'x').toLowerCase()}${first.slice(1)}/${rest(3)}` },
    { name: 'dot segment', path: `/${segments[1]}/./${rest(2)}` },
    { name: 'dot-dot segment', path: `/${segments[1]}/${first}/x/../${rest(3)}` },
    { name: 'bent from state', path: `/${segments[1]}/state/../${rest(2)}` },
    { name: 'bent from config', path: `/${segments[1]}/config/../${rest(2)}` },
    { name: 'encoded dot-dot', path: `/${segments[1]}/state/%2e%2e/${rest(2)}` },
    { name: 'encoded dot-dot, upper-case hex', path: `/${segments[1]}/state/%2E%2E/${rest(2)}` },
    { name: 'half-encoded dot-dot', path: `/${segments[1]}/state/.%2e/${rest(2)}` },
    { name: 'encoded dot', path: `/${segments[1]}/%2e/${rest(2)}` },
    { name: 'dot-dot through an encoded slash', path: `/${segments[1]}/state%2F..%2F${rest(2)}` },
    { name: 'backslash', path: `/${segments[1]}\\${rest(2)}` },
    { name: 'escaped root', path: `/%76${segments[1]!.slice(1)}/${rest(2)}` },
  ];
  return spellings.filter((s) => s.path !== path);
}

/**
 * Non-canonical spellings are refused before anything looks at them: 400 naming the path, 404 when no path of the
 * contract matches, 405 when the one that matches has no such method (`.../team%2Fapp/TAGS/v1` is the repository
 * `team/app/TAGS/v1`, which has no DELETE).
 */
function refusedSpelling(answer: Answer, method: string): string | undefined {
  // An answer to HEAD has no body to say who refused it.
  if (method === 'HEAD') return [400, 404, 405].includes(answer.status) ? undefined : 'expected 400, 404 or 405';
  const message = errorMessageOf(answer);
  if (answer.status === 400) return /^path '|malformed HTTP request|NAME_INVALID/.test(message) ? undefined : 'a 400 that is not the path grammar';
  if (answer.status === 404) return /^no such resource|UNSUPPORTED/.test(message) ? undefined : 'a 404 from further in';
  if (answer.status === 405) return /^method [A-Z]+ is not allowed on/.test(message) ? undefined : 'a 405 from further in';
  return 'expected the path grammar to refuse it (400) or nothing to match it (404, 405)';
}

let sequence = 0;
const nextId = () => `hostile-${++sequence}`;

function v1Cases(): Case[] {
  const { operations: ops, undeclared } = operations();
  const cases: Case[] = [];
  for (const op of ops) {
    const query = canonicalQuery(op);
    const statics = op.template.split('/').map((s) => !s.startsWith('{'));
    for (const caller of ROLES) {
      // The canonical spelling (and the plain-slash form of a repository name, which the contract documents as the
      // same path): exactly what the rules say.
      const variants = [{ query, viaSite: false }];
      if (op.query.includes('site')) variants.push({ query: [...query, 'site=edge'], viaSite: true }, { query: [...query, '%73ite=edge'], viaSite: true });
      const forms = op.path.includes('team%2Fapp') ? [op.path, op.path.replace('team%2Fapp', 'team/app')] : [op.path];
      for (const [form, variant] of forms.flatMap((f) => variants.map((v) => [f, v] as const))) {
        const allowed = mayCall(caller, op.method, op.template, variant.viaSite);
        const path = withQuery(form, variant.query);
        cases.push({
          id: nextId(),
          label: `canonical${form === op.path ? '' : ' (plain slashes)'}${variant.viaSite ? ' via site' : ''}`,
          method: op.method,
          path,
          caller,
          ...(op.body !== undefined ? { body: op.body } : {}),
          ...(allowed && variant.viaSite ? { forwardedAs: { method: op.method, url: withQuery(op.path, query) } } : {}),
          judge: (answer) => {
            if (caller === 'anonymous' || caller === 'wrong') return answer.status === 401 ? undefined : 'expected 401';
            if (!allowed) return answer.status === 403 && /^role '/.test(errorMessageOf(answer)) ? undefined : 'a role escape: expected 403';
            if (answer.status === 401 || answer.status === 403) return 'allowed, yet refused';
            if (variant.viaSite) return answer.status === 200 && answer.text === '{"site":"edge"}' ? undefined : 'expected the site\'s answer';
            const documented = (contract.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)[op.template]![op.method.toLowerCase()]!.responses;
            return String(answer.status) in documented ? undefined : 'a status the contract does not document';
          },
        });
      }
      // Every other spelling, with and without `site`: refused before access control, never forwarded.
      for (const spelling of otherSpellings(op.path, statics)) {
        for (const spelled of [withQuery(spelling.path, query), ...(op.query.includes('site') ? [withQuery(spelling.path, [...query, 'site=edge'])] : [])]) {
          cases.push({ id: nextId(), label: spelling.name, method: op.method, path: spelled, caller, ...(op.body !== undefined ? { body: op.body } : {}), judge: (a) => refusedSpelling(a, op.method) });
          counts.spellings++;
        }
      }
    }
  }
  // Methods the contract does not have on a path: 405 for everyone. Except a GET below a repository, which is the
  // plain-slash form of a repository name (`team%2Fapp/tags/v1` is the repository `team/app/tags/v1`): a read.
  for (const op of undeclared) {
    const repositoryRead = op.method === 'GET' && op.template.startsWith('/v1/state/image-registry/repositories/{repository-name}/');
    for (const caller of ROLES) {
      const judge = (a: Answer) => {
        if (!repositoryRead) return a.status === 405 ? undefined : 'expected 405';
        if (caller === 'anonymous' || caller === 'wrong') return a.status === 401 ? undefined : 'expected 401';
        if (!mayCall(caller, 'GET', '/v1/state/image-registry/repositories/{repository-name}', false)) return a.status === 403 ? undefined : 'a role escape: expected 403';
        return [400, 404].includes(a.status) ? undefined : 'expected the read of an unknown or invalid repository name';
      };
      cases.push({ id: nextId(), label: repositoryRead ? 'repository read' : 'undeclared method', method: op.method, path: op.path, caller, judge });
    }
  }
  counts.v1 = cases.length;
  return cases;
}

/** The /v2 routes, what each needs, and an answer an allowed caller gets that changes nothing. */
const V2_ROUTES: { method: string; path: string; action?: string; body?: string; contentType?: string }[] = [
  { method: 'GET', path: '/v2/' },
  { method: 'HEAD', path: '/v2/' },
  { method: 'GET', path: '/v2/_catalog', action: 'pull' },
  { method: 'GET', path: '/v2/team/app/tags/list', action: 'pull' },
  { method: 'GET', path: '/v2/team/app/manifests/v1', action: 'pull' },
  { method: 'HEAD', path: '/v2/team/app/manifests/v1', action: 'pull' },
  { method: 'PUT', path: '/v2/team/app/manifests/v9', action: 'push', body: '{"not":"a manifest"}', contentType: 'application/vnd.oci.image.manifest.v1+json' },
  { method: 'DELETE', path: '/v2/team/app/manifests/no-such-tag', action: 'delete' },
  { method: 'GET', path: `/v2/team/app/blobs/${DIGEST}`, action: 'pull' },
  { method: 'HEAD', path: `/v2/team/app/blobs/${DIGEST}`, action: 'pull' },
  { method: 'DELETE', path: `/v2/team/app/blobs/${DIGEST}`, action: 'delete' },
  { method: 'POST', path: `/v2/team/app/blobs/uploads/?digest=${DIGEST}`, action: 'push', body: 'not these bytes', contentType: 'application/octet-stream' },
  { method: 'GET', path: '/v2/team/app/blobs/uploads/no-such-session', action: 'push' },
  { method: 'PATCH', path: '/v2/team/app/blobs/uploads/no-such-session', action: 'push', body: 'x', contentType: 'application/octet-stream' },
  { method: 'PUT', path: `/v2/team/app/blobs/uploads/no-such-session?digest=${DIGEST}`, action: 'push' },
  { method: 'DELETE', path: '/v2/team/app/blobs/uploads/no-such-session', action: 'push' },
  { method: 'GET', path: `/v2/team/app/referrers/${DIGEST}`, action: 'pull' },
  // Pull-through's forms: containerd's `ns`, and the registry as the path's first component.
  { method: 'GET', path: `/v2/team/app/manifests/v1?ns=${TARGET}`, action: 'pull' },
  { method: 'HEAD', path: `/v2/team/app/blobs/${DIGEST}?ns=${TARGET}`, action: 'pull' },
  { method: 'GET', path: `/v2/${TARGET}/team/app/manifests/v1`, action: 'pull' },
];

function v2Cases(): Case[] {
  const cases: Case[] = [];
  const callers: { caller: Caller; authorization?: string }[] = [
    ...ROLES.map((caller) => ({ caller })),
    { caller: 'read', authorization: `Basic ${Buffer.from(`u:${bearerOf.read}`).toString('base64')}` },
    { caller: 'operator', authorization: `Basic ${Buffer.from(`u:${bearerOf.operator}`).toString('base64')}` },
    { caller: 'site', authorization: `Basic ${Buffer.from(`edge:${bearerOf.site}`).toString('base64')}` },
    { caller: 'wrong', authorization: `Basic ${Buffer.from('u:wrong').toString('base64')}` },
  ];
  for (const route of V2_ROUTES) {
    const [bare, query] = route.path.split('?') as [string, string | undefined];
    const statics = bare.split('/').map((s) => s !== 'team' && s !== 'app' && s !== 'v1' && !s.startsWith('sha256') && s !== 'no-such-session' && s !== 'no-such-tag' && s !== 'v9');
    for (const { caller, authorization } of callers) {
      const base = { method: route.method, caller, ...(authorization ? { authorization } : {}), ...(route.body !== undefined ? { body: route.body, contentType: route.contentType } : {}) };
      const allowed = route.action === undefined ? caller !== 'wrong' && caller !== 'anonymous' && registryActions[caller].length > 0 : registryActions[caller].includes(route.action);
      cases.push({
        ...base,
        id: nextId(),
        label: '/v2 canonical',
        path: route.path,
        judge: (answer) => {
          if (caller === 'wrong') return answer.status === 401 ? undefined : 'expected 401';
          if (!allowed) {
            const expected = caller === 'anonymous' ? 401 : 403;
            if (answer.status !== expected) return `a role escape: expected ${expected}`;
            if (expected === 401 && !/^Bearer realm="http:\/\/[^"]+\/v2\/token",service="berth"/.test(String(answer.headers['www-authenticate']))) return 'a 401 without the token-flow challenge';
            return undefined;
          }
          return answer.status === 401 || answer.status === 403 ? 'allowed, yet refused' : undefined;
        },
      });
      for (const spelling of otherSpellings(bare, statics)) {
        cases.push({
          ...base,
          id: nextId(),
          label: `/v2 ${spelling.name}`,
          path: query === undefined ? spelling.path : `${spelling.path}?${query}`,
          // Wrong credentials are told so wherever the path leads (the /v2 grammar allows a trailing slash).
          judge: (answer) => (caller === 'wrong' && answer.status === 401 ? undefined : refusedSpelling(answer, route.method)),
        });
        counts.spellings++;
      }
    }
  }
  counts.v2 = cases.length;
  return cases;
}

// ---------------------------------------------------------------------------------------------------------------

interface Snapshot {
  revision: unknown;
  registries: unknown;
  sites: unknown;
  tokens: unknown;
  repositories: unknown;
  catalog: unknown;
}

async function snapshot(): Promise<Snapshot> {
  const [replication, registries, sites, tokens, repositories] = await Promise.all([
    api.get('/v1/state/system/replication?fields=replicated-revision'),
    api.get('/v1/config/image-registry/remote-registries'),
    api.get('/v1/config/sites'),
    api.get('/v1/config/system/tokens'),
    api.get('/v1/state/image-registry/repositories'),
  ]);
  const catalog = await (await fetch(`${berth.url}/v2/_catalog`, { headers: { authorization: `Bearer ${bearerOf.admin}` } })).json();
  return { revision: replication.body, registries: registries.body, sites: sites.body, tokens: tokens.body, repositories: repositories.body, catalog };
}
let before_: Snapshot;

before(async () => {
  vault = await startVaultDev();
  const edgeAtSite = `edge-admin-token-${Math.random().toString(36).slice(2)}`;
  registerSecretValue(edgeAtSite);
  bearerOf.edgeAtSite = edgeAtSite;
  const secrets = vaultClient(vault.addr, vault.rootToken);
  await secrets.mount({ mount_point: 'site-tokens', type: 'kv', options: { version: '2' } });
  await secrets.write('site-tokens/data/edge', { data: { token: edgeAtSite } });

  // The site `edge`: records what reaches it and answers with its name.
  site = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      reachedSite.set(String(req.headers['x-request-id']), { method: req.method!, url: req.url!, authorization: req.headers.authorization, body: Buffer.concat(chunks).toString('utf8') });
      res.setHeader('content-type', 'application/json');
      res.end('{"site":"edge"}');
    });
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', () => resolve()));

  berth = await startBerth({
    env: { VAULT_ADDR: vault.addr, VAULT_TOKEN: vault.rootToken, BERTH_SITES_ALLOW_HTTP: 'true', BERTH_REGISTRY_ANONYMOUS_PULL: 'true' },
  });
  api = new Api(berth.url, berth.adminToken);
  auth.admin = `Bearer ${berth.adminToken}`;
  bearerOf.admin = berth.adminToken;
  const tokens: [Caller, Record<string, string>][] = [
    ['read', { name: 'hostile-read', role: 'read' }],
    ['operator', { name: 'hostile-operator', role: 'operator' }],
    ['site', { name: 'site-edge', role: 'site', site: 'edge' }],
    ['other-site', { name: 'site-other', role: 'site', site: 'other' }],
  ];
  for (const [caller, request] of tokens) {
    const created = await api.post('/v1/config/system/tokens', request);
    assert.equal(created.status, 201, created.text);
    bearerOf[caller] = (created.body as { token: string }).token;
    auth[caller] = `Bearer ${bearerOf[caller]}`;
  }
  const port = (site.address() as AddressInfo).port;
  assert.equal((await api.put('/v1/config/sites/edge', { name: 'edge', 'api-url': `http://127.0.0.1:${port}`, vault: 'site-tokens', secret: 'edge' })).status, 201);
  // Upstream calls fail at once (a closed loopback port): operations answer quickly, with designed outcomes. Mirrored,
  // so pull-through's /v2 forms are met in every spelling too (a miss is a 503; nothing is stored).
  assert.equal((await api.put(`/v1/config/image-registry/remote-registries/${TARGET}`, { address: TARGET, 'override-address': '127.0.0.1:9', mirror: { enabled: true } })).status, 201);
  before_ = await snapshot();
});

after(async () => {
  agent.destroy();
  await berth?.stop();
  await vault?.stop();
  site?.close();
});

describe('every route in every spelling with every role', () => {
  it('/v1, generated from the contract: paths x methods x spellings x roles, and `?site=`', async () => {
    await runAll(v1Cases());
  });

  it('/v2: every route x spellings x callers (API tokens as Bearer and Basic, site tokens, nobody)', async () => {
    await runAll(v2Cases());
  });
});

describe('by hand: what was found against main', () => {
  const one = async (c: Omit<Case, 'id' | 'judge'> & { expect: number; message?: RegExp }) => {
    const answer = await send({ ...c, id: nextId(), judge: () => undefined });
    counts.sent++;
    assert.equal(answer.status, c.expect, `${c.label}: ${answer.text}`);
    if (c.message) assert.match(errorMessageOf(answer), c.message, c.label);
    return answer;
  };

  it('spellings no longer reach the contract-less paths of the past', async () => {
    const json = (value: unknown) => ({ body: JSON.stringify(value) });
    await one({ label: 'a root token through /V1', method: 'POST', path: '/V1/config/system/tokens', caller: 'admin', ...json({ name: 'x1', role: 'root' }), expect: 404 });
    await one({ label: 'a root token', method: 'POST', path: '/v1/config/system/tokens', caller: 'admin', ...json({ name: 'x1', role: 'root' }), expect: 400, message: /^role: must be equal to one of the allowed values/ });
    await one({ label: 'a pull of 42 through /V1', method: 'POST', path: '/V1/state/image-registry/pull', caller: 'operator', ...json({ image: 42 }), expect: 404 });
    await one({ label: 'a pull of 42', method: 'POST', path: '/v1/state/image-registry/pull', caller: 'operator', ...json({ image: 42 }), expect: 400, message: /^image: must be string/ });
    await one({ label: 'list-images of 5', method: 'POST', path: `/v1/state/image-registry/remote-registries/${TARGET}/list-images`, caller: 'operator', ...json({ repository: 5 }), expect: 400 });
    await one({ label: 'site=-bad through /V1', method: 'GET', path: '/V1/state/image-registry/remote-registries?site=-bad', caller: 'read', expect: 404 });
    await one({ label: 'site=-bad', method: 'GET', path: '/v1/state/image-registry/remote-registries?site=-bad', caller: 'read', expect: 400, message: /query parameter 'site'/ });
    await one({ label: 'a grace period of soon', method: 'POST', path: '/v1/state/image-registry/garbage-collect', caller: 'operator', ...json({ 'grace-period-seconds': 'soon' }), expect: 400 });
    await one({ label: 'tokens through state, at a site', method: 'GET', path: '/v1/state/../config/system/tokens?site=edge', caller: 'read', expect: 400, message: /dot segment/ });
    // Only edge's own token records edge's contact (it did, above): nobody else moves its last-contact.
    const lastContact = async () => ((await api.get('/v1/state/sites/edge?fields=last-contact')).body as { 'last-contact': string })['last-contact'];
    const contact = await lastContact();
    assert.ok(contact, 'edge\'s own token recorded its contact');
    await new Promise((resolve) => setTimeout(resolve, 5));
    await one({ label: 'a read token naming a site', method: 'GET', path: '/v1/state/system/changes?after=0&wait=0&site-name=edge', caller: 'read', expect: 403 });
    await one({ label: 'an admin token naming a site', method: 'GET', path: '/v1/state/system/snapshot?site-name=edge', caller: 'admin', expect: 403 });
    await one({ label: 'a site token naming another', method: 'GET', path: '/v1/state/system/changes?after=0&wait=0&site-name=edge', caller: 'other-site', expect: 403 });
    await one({ label: 'a site token carried to another site', method: 'GET', path: '/v1/state/image-registry/repositories?site=edge', caller: 'site', expect: 403 });
    assert.equal(await lastContact(), contact);
  });

  it('a token in the query string is refused and never logged', async () => {
    const names = ['access_token', 'token', 'Password', 'CLIENT_SECRET', 'api_key', 'X-Amz-Signature', 'acc%65ss_token'];
    for (const name of names) {
      await one({ label: `?${name}=`, method: 'GET', path: `/v1/config/image-registry/remote-registries?${name}=${bearerOf.admin}&keys=true`, caller: 'anonymous', expect: 401 });
    }
    // The log is written as each answer completes: wait until every one of these requests is in it, then look.
    const lines = await eventually('the requests in the log', async () => {
      const logged = names.map((name) => berth.output().split('\n').find((line) => line.includes(`remote-registries?${name}=`)));
      return logged.every((line) => line !== undefined) && (logged as string[]);
    });
    assert.ok(!berth.output().includes(bearerOf.admin!), 'the admin token is in the log');
    for (const [i, name] of names.entries()) assert.ok(lines[i]!.includes(`?${name}=[Redacted]&keys=true`), `${name} is not redacted as expected: ${lines[i]}`);
  });
});

describe('afterwards', () => {
  it('thousands of requests were sent, most of them other spellings', (t) => {
    t.diagnostic(`${counts.sent} requests: ${counts.v1} on /v1 and ${counts.v2} on /v2, ${counts.spellings} of them other spellings`);
    assert.ok(counts.v1 > 3000 && counts.v2 > 1000 && counts.spellings > 3000, JSON.stringify(counts));
  });

  it('nothing changed: the store revision, registries, sites, tokens, and the site registry', async () => {
    assert.deepEqual(await snapshot(), before_);
  });

  it('no error-level line in the log', () => {
    const errors = berth.output().split('\n').filter((line) => /"level":(50|60)/.test(line));
    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} error-level lines`);
  });
});
