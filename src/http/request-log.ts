// One structured log line per request (pino-http), with a request id that honours and echoes X-Request-Id.
// Credentials never reach the log: Authorization, cookies and secret-store tokens are redacted, and so are the values
// of query parameters that carry credentials by their name (a client may put a token there; Berth never takes one).
// Levels: `error` only for a bug (500); a client's mistake or a designed 502/503 (sealed secret store, unreachable
// site or upstream) is `warn` without a stack, so no caller, authenticated or not, can fill the log with errors.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import { rewriteQuery } from './raw-query.js';

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

export function requestLog(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const offered = req.headers['x-request-id'];
      const id = typeof offered === 'string' && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel(_req, res, err) {
      if (err || (res.statusCode >= 500 && !isDesigned(res.statusCode))) return 'error';
      return res.statusCode >= 400 ? 'warn' : 'info';
    },
    // The serializers take the request and response themselves (not pino-std-serializers' copies, which read the
    // headers and parse the query string again on every request only for these four fields to be kept).
    wrapSerializers: false,
    // pino-http gives every 5xx line an `err` with a stack trace of its own making; a designed one has no bug to show.
    customErrorObject(_req, res, _error, value: Record<string, unknown>) {
      if (isDesigned(res.statusCode) && !(res as { err?: unknown }).err) {
        const { err: _omitted, ...rest } = value;
        return rest;
      }
      return value;
    },
    customErrorMessage: (_req, res) => (isDesigned(res.statusCode) ? 'request completed' : 'request errored'),
    // The path holds only names; the query may hold what a client wrongly thought was the way to pass a token.
    serializers: {
      req: (req: IncomingMessage & { id: unknown; originalUrl?: string }) => ({
        id: req.id,
        method: req.method,
        url: redactQuery(req.originalUrl ?? req.url ?? ''),
        remoteAddress: req.socket?.remoteAddress,
      }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
  });
}
