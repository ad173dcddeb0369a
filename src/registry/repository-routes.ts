// /v1/state/image-registry/repositories and /garbage-collect: what the site registry holds (repositories, tags,
// digests, platforms, sizes), deleting tags and images, and reclaiming unused blobs. Thin: parse, call, answer.
import type { Router, Request, RequestHandler } from 'express';
import { componentSchema } from '../contract/openapi.js';
import { sendAnswer, sendEmpty } from '../http/answer.js';
import { readOptions, shapeList, shapeOne } from '../http/query-options.js';
import type { GarbageCollectionResult, ImageTagSummary, RepositorySummary, SiteRegistry } from './index.js';
import { strictRouter } from '../http/path-grammar.js';

const REPOSITORIES = '/v1/state/image-registry/repositories/';

/**
 * `url` (a raw path and query) in the contract's form for `method`: itself unless it names a repository with plain
 * slashes. Repository names hold slashes. The contract's form is one path segment with each `/` as `%2F`; the name
 * written with plain slashes is rewritten to that form before contract validation and routing. For DELETE the last
 * two segments are the sub-resource (`tags/{tag}`, `images/{digest}`); for reads every segment is the name, since no
 * read exists below a repository.
 */
export function canonicalRepositoryUrl(method: string, url: string): string {
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  if (!path.startsWith(REPOSITORIES)) return url;
  const segments = path.slice(REPOSITORIES.length).split('/');
  const subResource = method === 'DELETE' && segments.length >= 3 && ['tags', 'images'].includes(segments.at(-2)!) ? segments.splice(-2) : [];
  if (segments.length < 2) return url;
  return `${REPOSITORIES}${[segments.join('%2F'), ...subResource].join('/')}${queryAt === -1 ? '' : url.slice(queryAt)}`;
}

/**
 * Rewrites the request's URL to canonicalRepositoryUrl's form. Mounted on the app after the path grammar has refused
 * other spellings (so the segments joined are never empty or dot segments) and before /v1 resolves the path to a
 * contract operation, so both forms get the same access check and validation. A plain read (http/plain-reads.ts)
 * resolves the same form.
 */
export const canonicalRepositoryPaths: RequestHandler = (req, _res, next) => {
  const canonical = canonicalRepositoryUrl(req.method, req.url);
  if (canonical !== req.url) {
    // The validator matches on originalUrl, the routers on url: both must see the same path.
    req.url = canonical;
    req.originalUrl = canonical;
  }
  next();
};

const tagAnswer = (t: ImageTagSummary) => ({
  tag: t.tag,
  digest: t.digest,
  'media-type': t.mediaType,
  platforms: t.platforms,
  size: t.size,
  updated: t.updatedAt,
  ...(t.sourceIndexDigest ? { 'source-index-digest': t.sourceIndexDigest } : {}),
});

const repositoryAnswer = (r: RepositorySummary) => ({ name: r.name, tags: r.tags.map(tagAnswer) });

const garbageCollectionAnswer = (result: GarbageCollectionResult) => ({
  'removed-blobs': result.removedBlobs.map((b) => ({ digest: b.digest, size: b.size })),
  'bytes-freed': result.bytesFreed,
  'expired-uploads': result.expiredUploads,
});

const nameOf = (req: Request) => String(req.params.name);

export function siteRepositoryRoutes(registry: SiteRegistry): Router {
  const router = strictRouter();
  const repositorySchema = componentSchema('SiteRepository');

  router.get('/state/image-registry/repositories', async (req, res) => {
    const options = readOptions(req, repositorySchema);
    const repositories = (await registry.listRepositories()).map(repositoryAnswer);
    sendAnswer(req, res, 200, shapeList(repositories, options, (r) => r.name));
  });

  router.get('/state/image-registry/repositories/:name', async (req, res) => {
    const options = readOptions(req, repositorySchema);
    sendAnswer(req, res, 200, shapeOne(repositoryAnswer(await registry.getRepository(nameOf(req))), options));
  });

  router.delete('/state/image-registry/repositories/:name/tags/:tag', async (req, res) => {
    const tag = String(req.params.tag);
    // validate=true: every check a delete makes (the repository and the tag exist), nothing deleted.
    if (readOptions(req).validateOnly) await registry.statManifest(nameOf(req), tag);
    else await registry.deleteTag(nameOf(req), tag);
    sendEmpty(res, 204);
  });

  router.delete('/state/image-registry/repositories/:name/images/:digest', async (req, res) => {
    const digest = String(req.params.digest);
    await registry.deleteImage(nameOf(req), digest, { validateOnly: readOptions(req).validateOnly });
    sendEmpty(res, 204);
  });

  router.post('/state/image-registry/garbage-collect', async (req, res) => {
    const graceSeconds = (req.body as { 'grace-period-seconds'?: number } | undefined)?.['grace-period-seconds'];
    const result = await registry.collectGarbage(graceSeconds === undefined ? {} : { gracePeriodMs: graceSeconds * 1000 });
    sendAnswer(req, res, 200, garbageCollectionAnswer(result));
  });
  return router;
}
