// The one place /v2 turns errors into responses: the OCI error body `{"errors":[{code,message,detail}]}` with the
// spec's status codes. Anything that is not a client's fault is passed on to the app's error handler.
import type { Request, Response } from 'express';
import { isBerthError } from '../../errors.js';
import { ManifestBlobUnknownError, RegistryError, type OciErrorCode } from '../registry-error.js';
import { authenticateChallenge, UnauthorizedError } from './access.js';

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

export function sendOciError(res: Response, error: RegistryError): void {
  if (error.status === 401) res.setHeader('WWW-Authenticate', error instanceof UnauthorizedError ? error.challenge : authenticateChallenge);
  // A body refused for its size may still be arriving; closing beats reading megabytes only to drop them.
  if (error.status === 413) res.setHeader('Connection', 'close');
  const body = Buffer.from(JSON.stringify(bodyOf(error)));
  res.status(error.status).setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', body.byteLength);
  res.end(body);
}

/**
 * Answers `error` if it is the client's (or a known, temporary condition); returns false for anything else,
 * which the caller hands to `next()` so the app logs it as the bug it is.
 */
export function respondWithError(req: Request, res: Response, error: unknown): boolean {
  // The client went away mid-request (aborted upload or download): there is no one to answer.
  if (req.destroyed && !req.complete) return true;
  if (res.headersSent) {
    res.destroy();
    return true;
  }
  if (error instanceof RegistryError) {
    sendOciError(res, error);
    return true;
  }
  if (isBerthError(error)) {
    switch (error.kind) {
      case 'unavailable':
        if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
        sendOciError(res, new RegistryError('UNAVAILABLE', error.message));
        return true;
      case 'unauthenticated':
        sendOciError(res, new RegistryError('UNAUTHORIZED', error.message));
        return true;
      case 'forbidden':
        sendOciError(res, new RegistryError('DENIED', error.message));
        return true;
      case 'payload-too-large':
        sendOciError(res, new RegistryError('SIZE_INVALID', error.message, undefined, 413));
        return true;
      case 'invalid-input':
        sendOciError(res, new RegistryError('UNSUPPORTED', error.message, undefined, 400));
        return true;
      default:
        return false;
    }
  }
  return false;
}
