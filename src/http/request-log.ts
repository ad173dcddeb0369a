// One structured log line per request (a hook of request-hooks.ts), with a request id that honours and echoes
// X-Request-Id.
// Credentials never reach the log: Authorization, cookies and secret-store tokens are redacted, and so are the values
// of query parameters that carry credentials by their name (a client may put a token there; Berth never takes one).
// Levels: `error` only for a bug (500); a client's mistake or a designed 502/503 (sealed secret store, unreachable
// site or upstream) is `warn` without a stack, so no caller, authenticated or not, can fill the log with errors.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request } from 'express';
import type { Logger } from 'pino';
import { rewriteQuery } from './raw-query.js';
import type { RequestHook } from './request-hooks.js';

/** Request ids are echoed in headers and logs, so only a safe, bounded form is honoured. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-vault-token"]',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
];

/**
 * Query parameter names whose values are credentials: OAuth's `access_token`/`refresh_token`/`id_token`, `token`,
 * `password`, `secret` (`client_secret`), API keys, signatures of pre-signed URLs (`X-Amz-Signature`, `sig`), `code`.
 * Matched on the decoded, lower-cased name.
 */
const CREDENTIAL_PARAMETER = /token|passw|pwd|secret|api[-_]?key|^key$|auth|signature|^sig$|credential|session|^code$/;

/** `url` with the value of every credential-like query parameter replaced by `[Redacted]`; the rest as sent. */
export const redactQuery = (url: string): string =>
  rewriteQuery(url, ({ pair, rawName, name }) => (CREDENTIAL_PARAMETER.test(name.toLowerCase()) ? `${rawName}=[Redacted]` : pair));

/** A 5xx Berth means to answer (its error kinds upstream-failure and unavailable), as opposed to a bug's 500. */
const isDesigned = (status: number) => status === 502 || status === 503;

declare module 'express-serve-static-core' {
  interface Request {
    /** The request id: the client's X-Request-Id when it is safe to echo, else a new UUID. */
    id: string;
    /** The process logger with this request's fields bound: made at its first use, as most requests log nothing else. */
    log: Logger;
  }
  interface Response {
    /** The failure a request's log line reports: a bug, or the machine's condition (a full disk). */
    err?: Error;
  }
}

/** What a log line says of a request: never its headers, and its query with credential-like values redacted. */
const requestFields = (req: IncomingMessage & { id: string; originalUrl?: string }) => ({
  id: req.id,
  method: req.method,
  url: redactQuery(req.originalUrl ?? req.url ?? ''),
  remoteAddress: req.socket?.remoteAddress,
});

/**
 * Writes the request's one line once it is answered, or once the client left before the answer ended. `lines` is the
 * process logger without its redaction pass (a third of a line's cost): every field of a line is composed here from
 * values that hold no credential (a checked id, the method, the path and a redacted query, the peer's address, the
 * status, the time taken). A line with an error in it goes through `logger`, redaction and all.
 */
function logAnswered(logger: Logger, lines: Logger, req: LoggedRequest, res: ServerResponse & { err?: Error }, started: number): void {
  const status = res.statusCode;
  const isBug = status >= 500 && !isDesigned(status);
  // The level is the answer's: a stream that began with 200 and ended in a failure logged elsewhere is no error here.
  const level = isBug ? 'error' : status >= 400 ? 'warn' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  const fields = { req: requestFields(req), res: { statusCode: status }, responseTime: Math.round(performance.now() - started) };
  // A bug's line, or one whose failure was kept for it (res.err), carries an `err` with a stack; a designed 502/503
  // has no bug to show.
  const failure = res.err ?? (isBug ? new Error(`failed with status code ${status}`) : undefined);
  if (failure) logger[level]({ ...fields, err: failure }, 'request errored');
  else lines[level](fields, res.writableEnded ? 'request completed' : 'request aborted');
}

/** Where a request keeps the logger its `log` is made from, and `log` once made. */
const LOGGER = Symbol('berth request logger');
/** A request as Node hands it over; Express, when the request reaches it, adds `originalUrl` (a rewritten path there). */
type LoggedRequest = IncomingMessage & { id: string; originalUrl?: string; [LOGGER]: { logger: Logger; bound?: Logger } };

// `req.log` is a getter of Express's request prototype, not an own property defined on each request: that would take
// every request object off V8's fast path (about 40 µs a request here).
Object.defineProperty(express.request, 'log', {
  configurable: true,
  get(this: Request & LoggedRequest): Logger {
    const state = this[LOGGER];
    return (state.bound ??= state.logger.child({ req: requestFields(this) }));
  },
});

export function requestLog(logger: Logger): RequestHook {
  const lines = logger.child({}, { redact: { paths: [] } });
  return (incoming, res) => {
    const req = incoming as LoggedRequest;
    const started = performance.now();
    const offered = req.headers['x-request-id'];
    req.id = typeof offered === 'string' && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    req[LOGGER] = { logger };
    return () => logAnswered(logger, lines, req, res, started);
  };
}
