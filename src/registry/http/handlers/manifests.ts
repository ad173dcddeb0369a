// /v2/<name>/manifests/<tag-or-digest>: GET and HEAD (stored bytes and media type), PUT (bounded body,
// validated, `?tag=` extra tags, OCI-Subject), DELETE (a tag, or a manifest by digest).
import type { RegistryContent, StoredManifest } from '../../registry-content.js';
import type { SiteRegistry } from '../../site-registry.js';
import { readBoundedBody } from '../request-body.js';
import { endEmpty, queryOf, repositoryPath, type RouteHandler } from './route.js';
import type { Response } from 'express';

function manifestHeaders(res: Response, manifest: StoredManifest): void {
  // The type it was pushed with, without parameters, as the spec asks.
  res.setHeader('Content-Type', manifest.mediaType);
  res.setHeader('Docker-Content-Digest', manifest.digest);
  res.setHeader('Content-Length', String(manifest.size));
  res.setHeader('ETag', `"${manifest.digest}"`);
  if (manifest.warning !== undefined) res.setHeader('Warning', manifest.warning);
}

/** GET and HEAD, from whatever content the request reads: the site registry, or pull-through. */
export function manifestReadHandlers(content: RegistryContent): { get: RouteHandler; head: RouteHandler } {
  return {
    get: async (_req, res, { name, reference }) => {
      const manifest = await content.getManifest(name, reference);
      manifestHeaders(res, manifest);
      res.status(200).end(manifest.bytes);
    },

    head: async (_req, res, { name, reference }) => {
      manifestHeaders(res, await content.statManifest(name, reference));
      res.status(200).end();
    },
  };
}

export function manifestHandlers(registry: SiteRegistry): { get: RouteHandler; head: RouteHandler; put: RouteHandler; delete: RouteHandler } {
  return {
    ...manifestReadHandlers(registry),

    put: async (req, res, { name, reference }) => {
      const bytes = await readBoundedBody(req, registry.maxManifestBytes);
      const tags = queryOf(req).getAll('tag');
      const result = await registry.putManifest(name, reference, req.headers['content-type'], bytes, { tags });
      res.setHeader('Location', `${repositoryPath(req, name)}/manifests/${result.digest}`);
      res.setHeader('Docker-Content-Digest', result.digest);
      if (result.subjectDigest) res.setHeader('OCI-Subject', result.subjectDigest);
      if (tags.length > 0) res.setHeader('OCI-Tag', tags.join(', '));
      endEmpty(res, 201);
    },

    delete: async (_req, res, { name, reference }) => {
      await registry.deleteManifest(name, reference);
      endEmpty(res, 202);
    },
  };
}
