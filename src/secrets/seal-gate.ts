// /v1 answers 503 (with Retry-After) while the secret store is sealed or unreachable; /healthz stays up.
// Mounted after authentication: only callers with a token learn the secret store's state, never its address.
import type { RequestHandler } from 'express';
import type { BerthError } from '../errors.js';
import type { SealMonitor } from './seal-monitor.js';
import { sealedError, unreachableError } from './secret-store.js';

/** The 503 /v1 answers while the secret store is sealed or unreachable; undefined while it is open. */
export function sealedAnswer(monitor: SealMonitor): BerthError | undefined {
  switch (monitor.state) {
    case 'sealed':
      return sealedError();
    case 'unreachable':
      return unreachableError();
    default:
      return undefined;
  }
}

export function sealGate(monitor: SealMonitor): RequestHandler {
  return (_req, _res, next) => next(sealedAnswer(monitor));
}
