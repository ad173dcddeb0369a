// GETs of one configuration entry (a remote registry, a site, a site's desired images) answered from Node's request,
// before Express: the request ops tooling and sites make most, and the one where Express's own work (its request
// and response objects, a dozen layers to walk, Accept negotiation) cost more than the answer.
//
// Only the plain case is answered here: GET, no query, no body, no precondition, an Accept that JSON satisfies, a
// path of unreserved characters and `:` (no percent-encoding, so the key reads the same to every part of Berth), and
// every check of the /v1 chain (app.ts) passing: the path grammar, the contract operation, the token, the role, the
// seal and the contract's checks, made by the same functions that chain uses. Anything else, a failed check
// included, is handed to Express untouched (nothing written, no header set): it checks the request again from the
// start and answers it as it answers every request, errors and all. The request log and metrics (app.ts) see both
// paths alike.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator } from '../principal.js';
import { bearerToken, isAllowed } from '../principal.js';
import { operationCheck } from '../contract/operation-checks.js';
import type { ReadOptions } from '../store/config-store.js';
import type { SealMonitor } from '../secrets/seal-monitor.js';
import { sealedAnswer } from '../secrets/seal-gate.js';
import { spellingProblem, type Operation, type operationTable } from './path-grammar.js';
import { etagOf } from './preconditions.js';

/** A config list's point read (ConfigList.getJson): the entry as JSON text, or a throw when there is none. */
export interface EntryReader {
  getJson(key: string, options?: ReadOptions): Promise<{ json: string; revision: number }>;
}

export interface PlainReadChecks {
  resolve: ReturnType<typeof operationTable>;
  authenticator: Authenticator;
  /** The secret store's seal monitor, when one is configured (seal-gate.ts). */
  seal?: SealMonitor | undefined;
}

/** /v1 paths whose every character reads the same raw and decoded, to the path grammar and to Express's router. */
const PLAIN_PATH = /^\/v1\/[A-Za-z0-9._~:/-]+$/;
/** Accept headers JSON satisfies as Express's negotiation (answer.ts) would choose it. */
const JSON_ACCEPTS: ReadonlySet<string | undefined> = new Set([undefined, '*/*', 'application/json']);
/** Headers that make a GET conditional (304, 412), or that come with a body: Express's path handles them. */
const NOT_PLAIN_HEADERS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range', 'content-type', 'transfer-encoding'];

export class PlainReads {
  /** The entry readers by the path template of their entries (`/v1/config/sites/{site-name}`). */
  private readonly readers = new Map<string, { parameter: string; reader: EntryReader }>();

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

  /** Whether `req` is plain enough to try (checked at once, before any await); `answer` makes the other checks. */
  accepts(req: IncomingMessage): boolean {
    if (req.method !== 'GET' || !PLAIN_PATH.test(req.url ?? '')) return false;
    const { headers } = req;
    if (!JSON_ACCEPTS.has(headers.accept)) return false;
    if (headers['content-length'] !== undefined && headers['content-length'] !== '0') return false;
    return !NOT_PLAIN_HEADERS.some((name) => headers[name] !== undefined);
  }

  /**
   * Answers an accepted request and resolves true; resolves false having written nothing when Express is to answer
   * it. Never rejects.
   */
  async answer(req: IncomingMessage & { operation?: Operation }, res: ServerResponse): Promise<boolean> {
    try {
      const path = req.url!;
      if (spellingProblem(path, { trailingSlash: false }) !== undefined) return false;
      const resolution = this.checks.resolve('GET', path);
      if (resolution.kind !== 'operation') return false;
      const { operation, parameters } = resolution;
      const entries = this.readers.get(operation.template);
      if (!entries) return false;
      const token = bearerToken(req.headers.authorization);
      const principal = token === undefined ? undefined : await this.checks.authenticator.authenticate(token);
      if (!principal || !isAllowed(principal.role, { method: 'GET', path: operation.template })) return false;
      if (this.checks.seal && sealedAnswer(this.checks.seal)) return false;
      if (operationCheck(operation.template, operation.method)({ path: parameters, query: {}, mediaType: undefined, body: undefined })) return false;
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
}
