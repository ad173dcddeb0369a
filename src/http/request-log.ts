// One structured log line per request (pino-http), with a request id that honours and echoes X-Request-Id.
// Credentials never reach the log: Authorization, cookies and secret-store tokens are redacted.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';

/** Request ids are echoed in headers and logs, so only a safe, bounded form is honoured. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-vault-token"]',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
];

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
      if (err || res.statusCode >= 500) return 'error';
      return res.statusCode >= 400 ? 'warn' : 'info';
    },
    // The query string is part of the URL; Berth takes no secrets there, and the path holds only names.
    // The serializers take the request and response themselves (not pino-std-serializers' copies, which read the
    // headers and parse the query string again on every request only for these four fields to be kept).
    wrapSerializers: false,
    serializers: {
      req: (req: IncomingMessage & { id: unknown; originalUrl?: string }) => ({
        id: req.id,
        method: req.method,
        url: req.originalUrl ?? req.url,
        remoteAddress: req.socket?.remoteAddress,
      }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
  });
}
