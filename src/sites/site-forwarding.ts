// `?site=<name>` on state reads and operations (everything under /v1/state/): the control tower carries the request
// out at that site and answers with the site's status, body and headers as they are. A `site` naming this Berth
// itself is dropped and the request served here. Mounted after access control and before body parsing, so the
// body streams through untouched and no route below ever sees a `site` parameter.
import type { Request, RequestHandler } from 'express';
import { schemaValidator } from '../contract/openapi.js';
import type { SiteConnections } from './site-connections.js';

/**
 * Request headers that mean the same at the site; credentials are the tower's own, set by SiteConnections.
 * (A chunked body is sent chunked again by undici, which will not take a transfer-encoding header.)
 */
const FORWARDED_REQUEST_HEADERS = ['accept', 'content-type', 'content-length', 'if-match', 'if-none-match'];
/** Answer headers handed back with the site's status and body. */
const RETURNED_RESPONSE_HEADERS = ['content-type', 'content-length', 'etag', 'retry-after', 'location', 'cache-control'];

/** Operations that answer only when their work is done: a pull copies an image, garbage collection walks blobs. */
const LONG_OPERATION = /^\/v1\/state\/image-registry\/(?:.*\/)?(?:pull|garbage-collect)\/?$/i;

/** `url` without any `site=` query parameter; every other parameter keeps its exact spelling and order. */
export function withoutSiteParameter(url: string): string {
  const queryAt = url.indexOf('?');
  if (queryAt === -1) return url;
  const kept = url
    .slice(queryAt + 1)
    .split('&')
    .filter((pair) => {
      const name = pair.split('=')[0]!;
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // A malformed escape is no `site`; the contract validator reports it.
      }
      return decoded !== 'site';
    });
  return kept.length > 0 ? `${url.slice(0, queryAt)}?${kept.join('&')}` : url.slice(0, queryAt);
}

const hasBody = (req: Request) => {
  const length = req.get('content-length');
  return length !== undefined ? Number(length) > 0 : req.get('transfer-encoding') !== undefined;
};

export function siteForwarding(ownName: string, connections: SiteConnections): RequestHandler {
  const isSiteName = schemaValidator('SiteName');
  return async (req, res, next) => {
    const site = req.query.site;
    const path = req.baseUrl + req.path;
    // Only state and operations take `site`; elsewhere, and for a malformed name, the contract answers the 400.
    if (site === undefined || !path.toLowerCase().startsWith('/v1/state/') || typeof site !== 'string' || !isSiteName(site)) return next();
    if (site === ownName) {
      // The validator matches on originalUrl, the routers (and req.query) read url: both lose the parameter.
      req.url = withoutSiteParameter(req.url);
      req.originalUrl = withoutSiteParameter(req.originalUrl);
      return next();
    }

    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.get(name);
      if (value !== undefined) headers[name] = value;
    }
    headers['x-request-id'] = String(req.id);
    headers['user-agent'] = `berth-tower/${ownName}`;
    // The client going away ends the request at the site too (a pull there stops when nobody waits for it).
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const answer = await connections.send(site, {
      method: req.method,
      pathAndQuery: withoutSiteParameter(req.originalUrl),
      headers,
      ...(hasBody(req) ? { body: req } : {}),
      long: req.method === 'POST' && LONG_OPERATION.test(path),
      signal: abort.signal,
    });
    res.status(answer.statusCode);
    for (const name of RETURNED_RESPONSE_HEADERS) {
      const value = answer.headers[name];
      if (value !== undefined) res.set(name, value);
    }
    // Piped by hand rather than with stream.pipeline(), which builds an AbortError with a stack trace for its own
    // AbortController at the end of every answer (about 15 µs a request here). A client going away aborts the request
    // to the site (above), which ends the body with an error.
    answer.body.once('error', (e: unknown) => {
      // The status line is out: all that is left is to cut the answer short, which the client sees.
      req.log?.warn({ site, err: e }, 'the answer from the site broke off');
      res.destroy();
    });
    answer.body.pipe(res);
  };
}
