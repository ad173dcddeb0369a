// /v2/<name>/blobs/<digest>: GET (whole or one Range, 206), HEAD, DELETE (unlinks from the repository).
import { pipeline } from 'node:stream/promises';
import type { RegistryContent } from '../../registry-content.js';
import type { SiteRegistry } from '../../site-registry.js';
import { parseRangeHeader } from '../byte-ranges.js';
import { endEmpty, type RouteHandler } from './route.js';

/** GET and HEAD, from whatever content the request reads: the site registry, or pull-through. */
export function blobReadHandlers(content: RegistryContent): { get: RouteHandler; head: RouteHandler } {
  const serve = (withBody: boolean): RouteHandler => async (req, res, { name, reference: digest }) => {
    const info = await content.statBlob(name, digest);
    const range = parseRangeHeader(req.headers.range, info.size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${info.size}`);
      endEmpty(res, 416);
      return;
    }
    // Opened before any header is set: bytes that cannot be had (a pull-through miss while the remote registry is
    // down) are answered as the error they are, not as a 200 that breaks off.
    const body = withBody ? await content.openBlob(name, digest, range) : undefined;
    res.setHeader('Docker-Content-Digest', info.digest);
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Accept-Ranges', 'bytes');
    // Content-addressed bytes never change: the digest is a perfect validator and caches may keep them.
    res.setHeader('ETag', `"${info.digest}"`);
    res.setHeader('Cache-Control', 'max-age=31536000');
    if (range) {
      res.status(206).setHeader('Content-Range', `bytes ${range.start}-${range.end}/${info.size}`);
      res.setHeader('Content-Length', String(range.end - range.start + 1));
    } else {
      res.status(200).setHeader('Content-Length', String(info.size));
    }
    if (!body) {
      res.end();
      return;
    }
    await pipeline(body, res);
  };
  return { get: serve(true), head: serve(false) };
}

export function blobHandlers(registry: SiteRegistry): { get: RouteHandler; head: RouteHandler; delete: RouteHandler } {
  return {
    ...blobReadHandlers(registry),
    delete: async (_req, res, { name, reference: digest }) => {
      await registry.deleteBlob(name, digest);
      endEmpty(res, 202);
    },
  };
}
