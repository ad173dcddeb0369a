// `?site=<name>` on state reads and operations (the contract's operations that take `site`): the control tower carries
// the request out at that site and answers with the site's status, body and headers as they are. A `site` naming this
// Berth itself is dropped and the request served here. Mounted last before the routes: what goes to a site has
// resolved to a contract operation and passed authentication, the role check and contract validation here, exactly
// as if it were served here; the site gets the very bytes of the body that were validated. No route below ever sees
// a `site` parameter.
import type { Request, RequestHandler, Response } from 'express';
import { rewriteQuery } from '../http/raw-query.js';
import { isBerthError, unavailable } from '../errors.js';
import { SITE_RETRY_AFTER_SECONDS, type SiteConnections } from './site-connections.js';
import { siteMetrics } from './site-metrics.js';

/** Request headers that mean the same at the site; credentials are the tower's own, set by SiteConnections. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'content-type', 'if-match', 'if-none-match'];
/** Answer headers handed back with the site's status and body. */
const RETURNED_RESPONSE_HEADERS = ['content-type', 'content-length', 'etag', 'retry-after', 'location', 'link', 'cache-control'];

/** Answers up to this size (by their Content-Length) are gathered and sent in one write. */
const GATHERED_ANSWER_BYTES = 256 * 1024;

/** Operations that answer only when their work is done: a pull copies an image, garbage collection walks blobs. */
const LONG_OPERATIONS: ReadonlySet<string> = new Set([
  '/v1/state/image-registry/pull',
  '/v1/state/image-registry/remote-registries/{remote-registry-address}/pull',
  '/v1/state/image-registry/garbage-collect',
]);

/** `url` without any `site=` (or `sites=`) query parameter; every other parameter keeps its exact spelling and order. */
export const withoutSiteParameter = (url: string): string => rewriteQuery(url, ({ pair, name }) => (name === 'site' || name === 'sites' ? undefined : pair));

/** What the tower sends a site with a request it carries out there: the headers that mean the same at the site. */
export function siteRequestHeaders(req: Request, ownName: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.get(name);
    if (value !== undefined) headers[name] = value;
  }
  headers['x-request-id'] = String(req.id);
  headers['user-agent'] = `berth-tower/${ownName}`;
  const body = req.rawBody;
  if (body) headers['content-length'] = String(body.length);
  return headers;
}

/** Whether the request is an operation that answers only when its work is done. */
export const isLongOperation = (req: Request): boolean => req.method === 'POST' && LONG_OPERATIONS.has(req.operation!.template);

/** Aborts when the client goes away before its answer is out: the work at the site stops too (a pull there stops when nobody waits for it). */
export function untilClientLeaves(res: Response): AbortSignal {
  const abort = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  return abort.signal;
}

/** A Location the site answers names a resource there: through the tower it is read with `site=` (a 202 pull's entry). */
export function towerLocation(location: string, site: string): string {
  if (!location.startsWith('/v1/state/')) return location;
  return `${location}${location.includes('?') ? '&' : '?'}site=${encodeURIComponent(site)}`;
}

/** A Link header of the site (`<...>; rel="next"` of a paged answer), its URLs read through the tower. */
const towerLink = (link: string, site: string): string => link.replace(/<([^>]*)>/g, (_all, url: string) => `<${towerLocation(url, site)}>`);

export function siteForwarding(ownName: string, connections: SiteConnections): RequestHandler {
  return async (req, res, next) => {
    // The contract has checked `site` (a site name, given once, on an operation that takes it).
    const site = req.query.site;
    if (typeof site !== 'string') return next();
    if (site === ownName) {
      // The routes read the query from url, logs and Location headers from originalUrl: both lose the parameter.
      req.url = withoutSiteParameter(req.url);
      req.originalUrl = withoutSiteParameter(req.originalUrl);
      return next();
    }

    const headers = siteRequestHeaders(req, ownName);
    const body = req.rawBody;
    let answer;
    try {
      answer = await connections.send(site, {
        method: req.method,
        pathAndQuery: withoutSiteParameter(req.originalUrl),
        headers,
        ...(body ? { body } : {}),
        long: isLongOperation(req),
        signal: untilClientLeaves(res),
      });
    } catch (e) {
      // A configured site that did not answer (an unknown site is no forwarded request: its 404 is the tower's).
      if (isBerthError(e) && e.kind === 'unavailable' && e.info?.site === site) siteMetrics.forwarded(site, 'unreachable');
      throw e;
    }
    siteMetrics.forwarded(site, answer.statusCode);
    const answerHeaders = () => {
      res.status(answer.statusCode);
      for (const name of RETURNED_RESPONSE_HEADERS) {
        const value = answer.headers[name];
        if (value === undefined) continue;
        if (typeof value === 'string' && name === 'location') res.set(name, towerLocation(value, site));
        else if (typeof value === 'string' && name === 'link') res.set(name, towerLink(value, site));
        else res.set(name, value);
      }
    };
    const length = Number(answer.headers['content-length']);
    if (Number.isSafeInteger(length) && length <= GATHERED_ANSWER_BYTES) {
      // A small answer of known length is gathered and sent with its headers in one write: a piped one costs a
      // system call (and a wake-up of the client) for the headers and for each chunk.
      const chunks: Buffer[] = [];
      answer.body.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.body.once('error', (e: unknown) => {
        // Nothing is out yet: the client gets the 503 of a site that did not answer, unless it is the one that left
        // (which aborted the request).
        if (!res.destroyed) next(unavailable(`site '${site}' broke off its answer: ${(e as Error).message}`, SITE_RETRY_AFTER_SECONDS, { site, kind: 'broke-off' }));
      });
      answer.body.once('end', () => {
        answerHeaders();
        res.end(Buffer.concat(chunks));
      });
      return;
    }
    answerHeaders();
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
