// `?site=<name>` on state reads and operations (the contract's operations that take `site`): the control tower carries
// the request out at that site and answers with the site's status, body and headers as they are. A `site` naming this
// Berth itself is dropped and the request served here. Mounted last before the routes: what goes to a site has
// resolved to a contract operation and passed authentication, the role check and contract validation here, exactly
// as if it were served here; the site gets the very bytes of the body that were validated. No route below ever sees
// a `site` parameter. A plain GET with `?site=` is carried out by the same SiteForwarder from Node's request, before
// Express (http/plain-reads.ts), once it passed the same checks.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { rewriteQuery } from '../http/raw-query.js';
import { checkPhase } from '../http/check-phase.js';
import { isBerthError, unavailable } from '../errors.js';
import { SITE_RETRY_AFTER_SECONDS, type SiteConnections, type SiteRequest, type SiteResponse } from './site-connections.js';
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

/**
 * What the tower sends a site with a request it carries out there: the headers that mean the same at the site.
 * `req.id` is the request id the request log gave it.
 */
export function siteRequestHeaders(req: IncomingMessage & { id: string }, ownName: string, body: Buffer | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  headers['x-request-id'] = req.id;
  headers['user-agent'] = `berth-tower/${ownName}`;
  if (body) headers['content-length'] = String(body.length);
  return headers;
}

/** Whether the operation `method` `template` answers only when its work is done. */
export const isLongOperation = (method: string, template: string): boolean => method === 'POST' && LONG_OPERATIONS.has(template);

/** Aborts when the client goes away before its answer is out: the work at the site stops too (a pull there stops when nobody waits for it). */
export function untilClientLeaves(res: ServerResponse): AbortSignal {
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

/** The site's status and the headers handed back with it, its URLs read through the tower. */
function answerHead(answer: SiteResponse, site: string): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const name of RETURNED_RESPONSE_HEADERS) {
    const value = answer.headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string' && name === 'location') headers[name] = towerLocation(value, site);
    else if (typeof value === 'string' && name === 'link') headers[name] = towerLink(value, site);
    else headers[name] = value;
  }
  return headers;
}

/** A request the tower carries out at a site: its method, operation, path and query (without `site`), and body. */
export interface CarriedRequest {
  method: string;
  /** The contract path template of its operation, e.g. `/v1/state/image-registry/pull`. */
  template: string;
  /** The request's path and query as the client sent them (or its path alone); `site=` is taken out here. */
  url: string;
  body?: Buffer | undefined;
}

export class SiteForwarder {
  constructor(
    /** This Berth's own site name: a request for it is not forwarded. */
    readonly ownName: string,
    private readonly connections: SiteConnections,
  ) {}

  /**
   * Carries `request` out at `site` and writes the site's answer on `res`. Rejects, having written nothing, when no
   * answer came: an unknown site (404), or one that did not answer or broke off a small answer before its end (503).
   * A large answer broken off after its status is out is cut short, which the client sees; `onBrokenOff` logs it.
   */
  async forward(
    site: string,
    req: IncomingMessage & { id: string },
    request: CarriedRequest,
    res: ServerResponse,
    onBrokenOff: (e: unknown) => void,
  ): Promise<void> {
    const sent: SiteRequest = {
      method: request.method,
      pathAndQuery: withoutSiteParameter(request.url),
      headers: siteRequestHeaders(req, this.ownName, request.body),
      ...(request.body ? { body: request.body } : {}),
      long: isLongOperation(request.method, request.template),
      signal: untilClientLeaves(res),
    };
    let answer;
    try {
      answer = await this.connections.send(site, sent);
    } catch (e) {
      // A configured site that did not answer (an unknown site is no forwarded request: its 404 is the tower's).
      if (isBerthError(e) && e.kind === 'unavailable' && e.info?.site === site) siteMetrics.forwarded(site, 'unreachable');
      throw e;
    }
    siteMetrics.forwarded(site, answer.statusCode);
    const length = Number(answer.headers['content-length']);
    if (Number.isSafeInteger(length) && length <= GATHERED_ANSWER_BYTES) {
      // A small answer of known length is gathered and sent with its headers in one write: a piped one costs a
      // system call (and a wake-up of the client) for the headers and for each chunk. It goes out with the other
      // answers of this turn, once the turn's work is done (check-phase.ts).
      const body = await gathered(answer.body, site);
      await checkPhase();
      res.writeHead(answer.statusCode, answerHead(answer, site));
      res.end(body);
      return;
    }
    res.writeHead(answer.statusCode, answerHead(answer, site));
    // Piped by hand rather than with stream.pipeline(), which builds an AbortError with a stack trace for its own
    // AbortController at the end of every answer (about 15 µs a request here). A client going away aborts the request
    // to the site (above), which ends the body with an error.
    answer.body.once('error', (e: unknown) => {
      // The status line is out: all that is left is to cut the answer short, which the client sees.
      onBrokenOff(e);
      res.destroy();
    });
    answer.body.pipe(res);
  }
}

/** The whole of a small answer's body; a 503 naming the site when it breaks off before its end. */
function gathered(body: SiteResponse['body'], site: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    body.once('error', (e: unknown) => reject(unavailable(`site '${site}' broke off its answer: ${(e as Error).message}`, SITE_RETRY_AFTER_SECONDS, { site, kind: 'broke-off' })));
    body.once('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** The request as the tower carries it out at a site: Express's view of it, after contract validation. */
const carriedRequest = (req: Request): CarriedRequest => ({ method: req.method, template: req.operation!.template, url: req.originalUrl, body: req.rawBody });

export function siteForwarding(forwarder: SiteForwarder): RequestHandler {
  return async (req: Request, res: Response, next) => {
    // The contract has checked `site` (a site name, given once, on an operation that takes it).
    const site = req.query.site;
    if (typeof site !== 'string') return next();
    if (site === forwarder.ownName) {
      // The routes read the query from url, logs and Location headers from originalUrl: both lose the parameter.
      req.url = withoutSiteParameter(req.url);
      req.originalUrl = withoutSiteParameter(req.originalUrl);
      return next();
    }
    // Nothing is out when it rejects (a client that left aborted the request, and gets no answer): the error answer.
    await forwarder.forward(site, req, carriedRequest(req), res, (e) => req.log.warn({ site, err: e }, 'the answer from the site broke off'));
  };
}
