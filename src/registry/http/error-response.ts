// The one place /v2 turns errors into responses: the OCI error body `{"errors":[{code,message,detail}]}` with the
// spec's status codes, for every failure -- the client's (4xx), the machine's (507 disk full, 503 out of files) and
// Berth's own (500, logged). An answer sent before the request body was read whole is followed by a bounded drain.
import type { Request, Response } from 'express';
import { isBerthError, resourceExhaustion, type BerthError } from '../../errors.js';
import { statusOf } from '../../http/error-response.js';
import { ManifestBlobUnknownError, RegistryError, type OciErrorCode } from '../registry-error.js';
import { authenticateChallenge, UnauthorizedError } from './access.js';
import { discardUnreadBody } from './request-body.js';

interface OciError {
  code: OciErrorCode;
  message: string;
  detail?: unknown;
}

function bodyOf(error: RegistryError): { errors: OciError[] } {
  if (error instanceof ManifestBlobUnknownError) {
    return { errors: error.missing.map((digest) => ({ code: error.code, message: 'manifest references a manifest or blob unknown to registry', detail: { digest } })) };
  }
  return { errors: [{ code: error.code, message: error.message, ...(error.detail ? { detail: error.detail } : {}) }] };
}

function sendOciError(req: Request, res: Response, error: RegistryError): void {
  if (error.status === 401) res.setHeader('WWW-Authenticate', error instanceof UnauthorizedError ? error.challenge : authenticateChallenge);
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(Math.ceil(error.retryAfterSeconds)));
  const body = Buffer.from(JSON.stringify(bodyOf(error)));
  res.status(error.status).setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', body.byteLength);
  // The answer may come before the client finished sending (a refused size, a failed disk write, a cancelled
  // upload): read and drop the rest for a while so the client can see it, then close the connection.
  discardUnreadBody(req, res);
  res.end(body);
}

/** The OCI error for a typed error of another module (the /v1 kinds also reach /v2 through the token check). */
function fromBerthError(error: BerthError): RegistryError | undefined {
  const carry = (code: OciErrorCode, status?: number) =>
    new RegistryError(code, error.message, undefined, status, error.retryAfterSeconds);
  switch (error.kind) {
    case 'unavailable':
      return carry('UNAVAILABLE');
    case 'insufficient-storage':
      return carry('UNKNOWN', 507);
    case 'unauthenticated':
      return carry('UNAUTHORIZED');
    case 'forbidden':
      return carry('DENIED');
    case 'payload-too-large':
      return carry('SIZE_INVALID', 413);
    case 'invalid-input':
      return carry('UNSUPPORTED', 400);
    case 'internal':
      return undefined;
    default:
      // Kinds the spec has no code for keep their status, as /v1 would answer them.
      return carry('UNKNOWN', statusOf(error.kind));
  }
}

const unexpected = () => new RegistryError('UNKNOWN', 'internal error: a bug in Berth; the request id identifies it in the log', undefined, 500);

/** Answers `error` in the OCI format, however the request got there; failures that are not the client's are logged. */
export function respondWithError(req: Request, res: Response, error: unknown): void {
  const exhausted = resourceExhaustion(error);
  const known = error instanceof RegistryError ? error : isBerthError(error) ? fromBerthError(error) : undefined;
  const answer = exhausted ? fromBerthError(exhausted)! : known ?? unexpected();
  // Whether anyone is left to answer: a client that hung up closed the socket (Berth never destroys a request itself).
  const clientGone = req.socket === null || req.socket.destroyed;
  // The request's log line carries the cause at error level, once (see request-log.ts).
  if (exhausted) res.err = error as Error;
  // A request stream breaking because its client left is no bug; anything else unexpected is logged once, here.
  else if (!known && !clientGone) req.log?.error({ err: error }, 'unexpected error');
  if (clientGone) return;
  if (res.headersSent) {
    // Part of a body went out already: only closing tells the client it is incomplete.
    res.destroy();
    return;
  }
  sendOciError(req, res, answer);
}
