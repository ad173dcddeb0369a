// The /v2 Express Router of the site registry (OCI distribution spec): the path grammar, who is calling, the route,
// what the route needs of the caller, then dispatch to one handler file per resource. Mount it at /v2 before any
// body-parsing middleware: blob bodies are streamed.
//
// Paths are matched here rather than with path-to-regexp because repository names span several segments
// (`a/b/c/manifests/x`): each route is a regular expression on the raw path, tried in a fixed order, and the
// name it captures is then validated against the spec's grammar. Access is judged on that validated name.
// Pull-through requests (containerd's `?ns=`, or a path starting with a mirrored registry) are read by the same
// handlers from the mirror's content; they are reads only, and access is judged on the name as sent.
import { Router, type Request, type Response } from 'express';
import { spellingProblem } from '../../http/path-grammar.js';
import { RegistryError } from '../registry-error.js';
import { assertRepositoryName } from '../repository-name.js';
import type { SiteRegistry } from '../site-registry.js';
import { authorize, callerName, challengeFor, identify, type RegistryAccess, type Requirement } from './access.js';
import { respondWithError } from './error-response.js';
import { RegistryTokens, type RegistryAction } from './registry-tokens.js';
import { tokenHandler } from './handlers/token.js';
import { getBase } from './handlers/base.js';
import { blobUploadHandlers } from './handlers/blob-uploads.js';
import { blobHandlers, blobReadHandlers } from './handlers/blobs.js';
import { catalogHandlers } from './handlers/catalog.js';
import { manifestHandlers, manifestReadHandlers } from './handlers/manifests.js';
import { referrerHandlers } from './handlers/referrers.js';
import { queryOf, type RouteHandler, type RouteParams } from './handlers/route.js';
import { tagHandlers } from './handlers/tags.js';
import type { PullThroughRouting, RegistryContent } from '../registry-content.js';

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

interface Route {
  /** The route's shape, e.g. `/v2/{name}/manifests/{reference}`: how metrics name it, never by its raw path. */
  template: string;
  /** Group 1 is the repository name (when the route has one), group 2 the last segment. */
  pattern: RegExp;
  methods: Partial<Record<Method, RouteHandler>>;
  /** What each method needs on the route's repository; routes without one need `catalog` or nothing (the ping). */
  actions?: Partial<Record<Method, RegistryAction>>;
  catalog?: true;
}

const PULL = { GET: 'pull', HEAD: 'pull' } as const;

function routesFor(registry: SiteRegistry): Route[] {
  const blobs = blobHandlers(registry);
  const uploads = blobUploadHandlers(registry);
  const manifests = manifestHandlers(registry);
  const tags = tagHandlers(registry);
  const catalog = catalogHandlers(registry);
  const referrers = referrerHandlers(registry);
  return [
    { template: '/v2/', pattern: /^\/?$/, methods: { GET: getBase, HEAD: getBase } },
    { template: '/v2/_catalog', pattern: /^\/_catalog$/, methods: { GET: catalog.list }, catalog: true },
    { template: '/v2/{name}/tags/list', pattern: /^\/(.+?)\/tags\/list$/, methods: { GET: tags.list }, actions: PULL },
    {
      template: '/v2/{name}/manifests/{reference}',
      pattern: /^\/(.+?)\/manifests\/([^/]+)$/,
      methods: { GET: manifests.get, HEAD: manifests.head, PUT: manifests.put, DELETE: manifests.delete },
      actions: { ...PULL, PUT: 'push', DELETE: 'delete' },
    },
    // Before blobs/<digest>, which "uploads" would otherwise match. An upload session is part of a push, reads included.
    { template: '/v2/{name}/blobs/uploads/', pattern: /^\/(.+?)\/blobs\/uploads\/?$/, methods: { POST: uploads.start }, actions: { POST: 'push' } },
    {
      template: '/v2/{name}/blobs/uploads/{session}',
      pattern: /^\/(.+?)\/blobs\/uploads\/([^/]+)$/,
      methods: { GET: uploads.status, PATCH: uploads.patch, PUT: uploads.put, DELETE: uploads.cancel },
      actions: { GET: 'push', PATCH: 'push', PUT: 'push', DELETE: 'push' },
    },
    {
      template: '/v2/{name}/blobs/{digest}',
      pattern: /^\/(.+?)\/blobs\/([^/]+)$/,
      methods: { GET: blobs.get, HEAD: blobs.head, DELETE: blobs.delete },
      actions: { ...PULL, DELETE: 'delete' },
    },
    { template: '/v2/{name}/referrers/{digest}', pattern: /^\/(.+?)\/referrers\/([^/]+)$/, methods: { GET: referrers.list }, actions: PULL },
  ];
}

/** What pull-through serves, by route template: reads of manifests, blobs and tags (a mirror is read-only). */
function pullThroughHandlers(content: RegistryContent): Record<string, Partial<Record<Method, RouteHandler>>> {
  const manifests = manifestReadHandlers(content);
  const blobs = blobReadHandlers(content);
  return {
    '/v2/{name}/manifests/{reference}': { GET: manifests.get, HEAD: manifests.head },
    '/v2/{name}/blobs/{digest}': { GET: blobs.get, HEAD: blobs.head },
    '/v2/{name}/tags/list': { GET: tagHandlers(content).list },
  };
}

const PULL_THROUGH_TEMPLATES = Object.keys(pullThroughHandlers({} as RegistryContent));

/** containerd's `ns`: absent, or exactly one value. */
function namespaceOf(req: Request): string | undefined {
  const values = queryOf(req).getAll('ns');
  if (values.length > 1) throw new RegistryError('NAME_INVALID', 'ns given more than once', undefined, 400);
  return values[0];
}

function unsupported(res: Response, method: string, allowed: string[]): RegistryError {
  res.setHeader('Allow', allowed.join(', '));
  return new RegistryError('UNSUPPORTED', `${method} is not supported here`, undefined, 405);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RegistryError('UNSUPPORTED', 'malformed percent-encoding in the path', undefined, 400);
  }
}

function routeParams(match: RegExpExecArray, client: string | undefined): RouteParams {
  const name = match[1] === undefined ? '' : assertRepositoryName(match[1]);
  return { name, reference: match[2] === undefined ? '' : decodeSegment(match[2]), ...(client !== undefined ? { client } : {}) };
}

/** What `method` on `route` needs of the caller. */
function requirementOf(route: Route, method: Method, params: RouteParams): Requirement {
  if (route.catalog) return { resource: { type: 'registry', name: 'catalog' }, action: 'pull' };
  const action = route.actions?.[method];
  return action ? { resource: { type: 'repository', name: params.name }, action } : {};
}

/** Serves a pull-through request: reads only, access judged on the name as sent, then the mirror's content. */
async function servePullThrough(
  req: Request,
  res: Response,
  route: Route,
  match: RegExpExecArray,
  mirrored: { name: string; content(): Promise<RegistryContent> },
  authorized: (requirement: Requirement) => void,
): Promise<void> {
  const method = req.method as Method;
  const allowed = PULL_THROUGH_TEMPLATES.includes(route.template) ? (['GET', 'HEAD'] as const).filter((m) => route.methods[m]) : [];
  if (!allowed.includes(method as 'GET')) {
    if (allowed.length === 0) throw new RegistryError('UNSUPPORTED', `${route.template} is not served for mirrored registries`, undefined, 404);
    throw unsupported(res, req.method, [...allowed]);
  }
  authorized({ resource: { type: 'repository', name: match[1]! }, action: 'pull' });
  const handler = pullThroughHandlers(await mirrored.content())[route.template]![method]!;
  await handler(req, res, { name: mirrored.name, reference: match[2] === undefined ? '' : decodeSegment(match[2]) });
}

export function createRegistryRouter(registry: SiteRegistry, access: RegistryAccess, pullThrough?: PullThroughRouting): Router {
  const routes = routesFor(registry);
  const tokens = new RegistryTokens();
  const issueToken = tokenHandler(access, tokens);
  const router = Router({ caseSensitive: true, strict: true });
  router.use(async (req: Request, res: Response) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    try {
      const problem = spellingProblem(req.baseUrl + req.path, { trailingSlash: true });
      if (problem) throw new RegistryError('NAME_INVALID', `path ${problem}`, undefined, 400);
      // Named for metrics before anything can refuse the request, so a 401 counts under its route too.
      req.routeTemplate = req.path === '/token' ? '/v2/token' : routes.find((r) => r.pattern.test(req.path))?.template;
      if (req.path === '/token') {
        if (req.method !== 'GET') {
          res.setHeader('Allow', 'GET');
          throw new RegistryError('UNSUPPORTED', `${req.method} is not supported here`, undefined, 405);
        }
        return await issueToken(req, res);
      }
      const caller = await identify(req, access, tokens, () => challengeFor(req, access, undefined));
      // Without anonymous pull, nothing is served to nobody, not even a 404.
      if (caller.kind === 'anonymous' && !access.anonymousPull) authorize(req, caller, {}, access);
      for (const route of routes) {
        const match = route.pattern.exec(req.path);
        if (!match) continue;
        const method = req.method as Method;
        const handler = route.methods[method];
        if (!handler) throw unsupported(res, req.method, Object.keys(route.methods));
        const mirrored = match[1] !== undefined && pullThrough ? await pullThrough.route(match[1], namespaceOf(req)) : undefined;
        if (mirrored) return await servePullThrough(req, res, route, match, mirrored, (requirement) => authorize(req, caller, requirement, access));
        const params = routeParams(match, callerName(caller));
        authorize(req, caller, requirementOf(route, method, params), access);
        await handler(req, res, params);
        return;
      }
      throw new RegistryError('UNSUPPORTED', 'no such endpoint', undefined, 404);
    } catch (error) {
      respondWithError(req, res, error);
    }
  });
  return router;
}
