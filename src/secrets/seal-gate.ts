// /v1 answers 503 (with Retry-After) while the secret store is sealed or unreachable; /healthz stays up.
import type { RequestHandler } from 'express';
import type { SealMonitor } from './seal-monitor.js';
import { sealedError, unreachableError, type SecretStore } from './secret-store.js';

export function sealGate(monitor: SealMonitor, store: SecretStore): RequestHandler {
  return (_req, _res, next) => {
    switch (monitor.state) {
      case 'sealed':
        return next(sealedError());
      case 'unreachable':
        return next(unreachableError(store.address));
      default:
        return next();
    }
  };
}
