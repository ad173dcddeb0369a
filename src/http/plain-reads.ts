// Two kinds of GET answered from Node's request, before Express: one configuration entry (a remote registry, a site,
// a site's desired images), and at the control tower any read carried out at a site with `?site=`. They are the
// requests ops tooling and sites make most, and the ones where Express's own work (its request and response objects,
// a dozen layers to walk, Accept negotiation) cost as much as the answer.
//
// Only the plain case is answered here: GET, no query but `site=<name>`, no body, no precondition, an Accept that
// JSON satisfies, a path of unreserved characters and `:` (no percent-encoding, so the key reads the same to every
// part of Berth), and every check of the /v1 chain (app.ts) passing: the path grammar, the contract operation, the
// token, the role, the seal and the contract's checks, made by the same functions that chain uses. Anything else, a
// failed check included, is handed to Express untouched (nothing written, no header set): it checks the request
// again from the start and answers it as it answers every request, errors and all. A request sent on to a site is
// answered here from then on, an error (the site did not answer) by the same writer Express's errors use. The
// request log and metrics (app.ts) see both paths alike.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Authenticator } from '../principal.js';
import { bearerToken, isAllowed } from '../principal.js';
import { operationCheck } from '../contract/operation-checks.js';
import type { ReadOptions } from '../store/config-store.js';
import type { SealMonitor } from '../secrets/seal-monitor.js';
import { sealedAnswer } from '../secrets/seal-gate.js';
import { spellingProblem, type Operation, type operationTable } from './path-grammar.js';
import { etagOf } from './preconditions.js';
import { failureOf, writeErrorAnswer } from './error-response.js';
import { canonicalRepositoryUrl } from '../registry/repository-routes.js';

/** A config list's point read (ConfigList.getJson): the entry as JSON text, or a throw when there is none. */
export interface EntryReader {
  getJson(key: string, options?: ReadOptions): Promise<{ json: string; revision: number }>;
}

/** What carries a request out at a site (sites/site-forwarding.ts): it writes the site's answer, or rejects having written nothing. */
export interface SiteCarrier {
  /** This Berth's own site name: Express serves a request naming it. */
  readonly ownName: string;
  forward(
    site: string,
    req: IncomingMessage & { id: string },
    request: { method: string; template: string; url: string },
    res: ServerResponse,
    onBrokenOff: (e: unknown) => void,
  ): Promise<void>;
}

export interface PlainReadChecks {
  resolve: ReturnType<typeof operationTable>;
  authenticator: Authenticator;
  /** The secret store's seal monitor, when one is configured (seal-gate.ts). */
  seal?: SealMonitor | undefined;
  /** For what goes wrong once a request went to a site: a bug's line, and a site's answer broken off. */
  logger: Logger;
}

/**
 * /v1 paths whose every character reads the same raw and decoded, to the path grammar and to Express's router; the
 * query, if any, a `site` of the characters the contract's site names have (it checks their form).
 */
const PLAIN_URL = /^\/v1\/[A-Za-z0-9._~:/-]+(?:\?site=[a-z0-9-]{1,63})?$/;
/** The one answer format of plain requests: their Accept headers are those JSON satisfies. */
const JSON_FORMAT = { mediaType: 'application/json', yaml: false };
/** Accept headers JSON satisfies as Express's negotiation (answer.ts) would choose it. */
const JSON_ACCEPTS: ReadonlySet<string | undefined> = new Set([undefined, '*/*', 'application/json']);
/** Headers that make a GET conditional (304, 412), or that come with a body: Express's path handles them. */
const NOT_PLAIN_HEADERS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range', 'content-type', 'transfer-encoding'];

export class PlainReads {
  /** The entry readers by the path template of their entries (`/v1/config/sites/{site-name}`). */
  private readonly readers = new Map<string, { parameter: string; reader: EntryReader }>();
  private forwarder: SiteCarrier | undefined;

  constructor(private readonly checks: PlainReadChecks) {}

  /**
   * Answers GET `${listPath}/{key}` from `reader`. Throws unless the contract has exactly that operation, with its one
   * path parameter as the last segment: a list path out of step with the contract fails Berth's start, not a request.
   */
  add(listPath: string, reader: EntryReader): void {
    const resolution = this.checks.resolve('GET', `${listPath}/key`);
    const operation = resolution.kind === 'operation' ? resolution.operation : undefined;
    const parameters = resolution.kind === 'operation' ? Object.keys(resolution.parameters) : [];
    if (!operation || parameters.length !== 1 || operation.template !== `${listPath}/{${parameters[0]}}`) {
      throw new Error(`plain reads: the contract has no GET ${listPath}/{key}`);
    }
    this.readers.set(operation.template, { parameter: parameters[0]!, reader });
  }

  /** Answers plain GETs with `?site=` by carrying them out at the site with `forwarder`. */
  forwardWith(forwarder: SiteCarrier): void {
    this.forwarder = forwarder;
  }

  /** Whether `req` is plain enough to try (checked at once, before any await); `answer` makes the other checks. */
  accepts(req: IncomingMessage): boolean {
    const url = req.url ?? '';
    if (req.method !== 'GET' || !PLAIN_URL.test(url)) return false;
    if (!this.forwarder && url.includes('?')) return false;
    const { headers } = req;
    if (!JSON_ACCEPTS.has(headers.accept)) return false;
    if (headers['content-length'] !== undefined && headers['content-length'] !== '0') return false;
    return !NOT_PLAIN_HEADERS.some((name) => headers[name] !== undefined);
  }

  /**
   * Answers an accepted request and resolves true; resolves false having written nothing when Express is to answer
   * it. Never rejects.
   */
  async answer(req: IncomingMessage & { id: string; operation?: Operation }, res: ServerResponse): Promise<boolean> {
    // A failing check (an authenticator that cannot reach its provider): Express makes it again and answers it.
    const admitted = await this.admitted(req).catch(() => undefined);
    if (!admitted) return false;
    const { operation, parameters, path, site } = admitted;
    if (site !== undefined) {
      // From here on the answer is this path's: handing the request to Express would send it to the site twice.
      req.operation = operation;
      await this.forwarded(site, req, { method: 'GET', template: operation.template, url: path }, res);
      return true;
    }
    try {
      const entries = this.readers.get(operation.template)!;
      // Under load, the store checks once for the reads of every request this turn of the event loop took in.
      const found = await entries.reader.getJson(parameters[entries.parameter]!, { shareCheck: true });
      if (res.headersSent || res.destroyed) return true;
      const body = found.json;
      // The request log and metrics label the request by its operation, as they do a request Express resolved.
      req.operation = operation;
      res.writeHead(200, { ETag: etagOf(found.revision), 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return true;
    } catch {
      // No such entry, or the store failing: Express reads it again and answers with the error body.
      return false;
    }
  }

  /**
   * The request's operation once every check of the /v1 chain passed, with its path in the form Express resolves it
   * in (a repository name's slashes as %2F) and its `site`; undefined when Express is to answer it.
   */
  private async admitted(req: IncomingMessage): Promise<{ operation: Operation; parameters: Record<string, string>; path: string; site?: string } | undefined> {
    const queryAt = req.url!.indexOf('?');
    const site = queryAt === -1 ? undefined : req.url!.slice(queryAt + '?site='.length);
    const rawPath = queryAt === -1 ? req.url! : req.url!.slice(0, queryAt);
    if (spellingProblem(rawPath, { trailingSlash: false }) !== undefined) return undefined;
    const path = canonicalRepositoryUrl('GET', rawPath);
    const resolution = this.checks.resolve('GET', path);
    if (resolution.kind !== 'operation') return undefined;
    const { operation, parameters } = resolution;
    // A read of an entry this path has a reader for, or a read at another site (Express serves one naming this Berth).
    if (site === undefined ? !this.readers.has(operation.template) : site === this.forwarder!.ownName) return undefined;
    const token = bearerToken(req.headers.authorization);
    const principal = token === undefined ? undefined : await this.checks.authenticator.authenticate(token);
    // `site` counts in the role rules (a site token reads the change feed here only), as Express's authorize has it.
    if (!principal || !isAllowed(principal.role, { method: 'GET', path: operation.template, site })) return undefined;
    if (this.checks.seal && sealedAnswer(this.checks.seal)) return undefined;
    const query = site === undefined ? {} : { site };
    if (operationCheck(operation.template, operation.method)({ path: parameters, query, mediaType: undefined, body: undefined })) return undefined;
    return { operation, parameters, path, ...(site === undefined ? {} : { site }) };
  }

  /** Carries the request out at `site` and answers with the site's answer, or with the error of why none came. */
  private async forwarded(site: string, req: IncomingMessage & { id: string }, request: { method: string; template: string; url: string }, res: ServerResponse): Promise<void> {
    // Made only when something is to be logged: a child logger per request costs more than the rest of the path.
    const log = () => this.checks.logger.child({ req: { id: req.id } });
    try {
      await this.forwarder!.forward(site, req, request, res, (e) => log().warn({ site, err: e }, 'the answer from the site broke off'));
    } catch (e) {
      // A client that left aborted the request to the site: nobody to answer.
      if (!res.headersSent && !res.destroyed) writeErrorAnswer(res, failureOf(e, { log: log() }, res), JSON_FORMAT);
    }
  }
}
