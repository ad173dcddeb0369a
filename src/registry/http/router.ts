// The /v2 Express Router of the site registry (OCI distribution spec): access check, then dispatch by path to
// one handler file per resource. Mount it at /v2 before any body-parsing middleware: blob bodies are streamed.
//
// Paths are matched here rather than with path-to-regexp because repository names span several segments
// (`a/b/c/manifests/x`): each route is a regular expression on the raw path, tried in a fixed order, and the
// name it captures is then validated against the spec's grammar.
import { Router, type Request, type Response } from 'express';
import { RegistryError } from '../registry-error.js';
import { assertRepositoryName } from '../repository-name.js';
import type { SiteRegistry } from '../site-registry.js';
import { authorize, type RegistryAccess } from './access.js';
import { respondWithError } from './error-response.js';
import { getBase } from './handlers/base.js';
import { blobUploadHandlers } from './handlers/blob-uploads.js';
import { blobHandlers } from './handlers/blobs.js';
import { catalogHandlers } from './handlers/catalog.js';
import { manifestHandlers } from './handlers/manifests.js';
import { referrerHandlers } from './handlers/referrers.js';
import type { RouteHandler, RouteParams } from './handlers/route.js';
import { tagHandlers } from './handlers/tags.js';

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

interface Route {
  /** Group 1 is the repository name (when the route has one), group 2 the last segment. */
  pattern: RegExp;
  methods: Partial<Record<Method, RouteHandler>>;
}

function routesFor(registry: SiteRegistry): Route[] {
  const blobs = blobHandlers(registry);
  const uploads = blobUploadHandlers(registry);
  const manifests = manifestHandlers(registry);
  const tags = tagHandlers(registry);
  const catalog = catalogHandlers(registry);
  const referrers = referrerHandlers(registry);
  return [
    { pattern: /^\/?$/, methods: { GET: getBase, HEAD: getBase } },
    { pattern: /^\/_catalog$/, methods: { GET: catalog.list } },
    { pattern: /^\/(.+?)\/tags\/list$/, methods: { GET: tags.list } },
    { pattern: /^\/(.+?)\/manifests\/([^/]+)$/, methods: { GET: manifests.get, HEAD: manifests.head, PUT: manifests.put, DELETE: manifests.delete } },
    // Before blobs/<digest>, which "uploads" would otherwise match.
    { pattern: /^\/(.+?)\/blobs\/uploads\/?$/, methods: { POST: uploads.start } },
    { pattern: /^\/(.+?)\/blobs\/uploads\/([^/]+)$/, methods: { GET: uploads.status, PATCH: uploads.patch, PUT: uploads.put, DELETE: uploads.cancel } },
    { pattern: /^\/(.+?)\/blobs\/([^/]+)$/, methods: { GET: blobs.get, HEAD: blobs.head, DELETE: blobs.delete } },
    { pattern: /^\/(.+?)\/referrers\/([^/]+)$/, methods: { GET: referrers.list } },
  ];
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

export function createRegistryRouter(registry: SiteRegistry, access: RegistryAccess): Router {
  const routes = routesFor(registry);
  const router = Router();
  router.use(async (req: Request, res: Response) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    try {
      const identity = await authorize(req.method, req.headers, access);
      for (const route of routes) {
        const match = route.pattern.exec(req.path);
        if (!match) continue;
        const handler = route.methods[req.method as Method];
        if (!handler) {
          res.setHeader('Allow', Object.keys(route.methods).join(', '));
          throw new RegistryError('UNSUPPORTED', `${req.method} is not supported here`, undefined, 405);
        }
        await handler(req, res, routeParams(match, identity?.name));
        return;
      }
      throw new RegistryError('UNSUPPORTED', 'no such endpoint', undefined, 404);
    } catch (error) {
      respondWithError(req, res, error);
    }
  });
  return router;
}
