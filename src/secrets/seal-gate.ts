// /v1 answers 503 (with Retry-After) while the secret store is sealed or unreachable; /healthz stays up.
// Mounted after authentication: only callers with a token learn the secret store's state, never its address.
import type { RequestHandler } from 'express';
import type { SealMonitor } from './seal-monitor.js';
import { sealedError, unreachableError } from './secret-store.js';

export function sealGate(monitor: SealMonitor): RequestHandler {
  return (_req, _res, next) => {
    switch (monitor.state) {
      case 'sealed':
        return next(sealedError());
      case 'unreachable':
        return next(unreachableError());
      default:
        return next();
    }
  };
}
