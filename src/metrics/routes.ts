// GET /metrics: Prometheus text format, beside /healthz rather than under /v1. It is not part of the contract: its
// answer is Prometheus's own format (no YAML or JSON negotiation, no `fields`), at the path scrapers expect by
// default. A scrape needs a token of a role that reads (admin, operator, read; not site) as a bearer, unless
// BERTH_METRICS_ANONYMOUS=true; a refusal is the API's error body, 401 or 403.
import type { RequestHandler } from 'express';
import { forbidden, unauthenticated } from '../errors.js';
import { bearerToken, isAllowed, type Authenticator } from '../principal.js';
import { metricsRegistry } from './metrics.js';

export const METRICS_PATH = '/metrics';

export interface MetricsRouteOptions {
  authenticator: Authenticator;
  anonymous: boolean;
}

export function metricsRoute(options: MetricsRouteOptions): RequestHandler {
  return async (req, res, next) => {
    try {
      if (!options.anonymous) {
        const token = bearerToken(req.get('authorization'));
        if (!token) throw unauthenticated('missing bearer token: send Authorization: Bearer <token> (a token with role read will do)');
        const principal = await options.authenticator.authenticate(token);
        if (!principal) throw unauthenticated('unknown or revoked token');
        if (!isAllowed(principal.role, { method: 'GET', path: METRICS_PATH })) throw forbidden(`role '${principal.role}' may not GET ${METRICS_PATH}`);
      }
      const registry = await metricsRegistry();
      const text = await registry.metrics();
      res.status(200).set({ 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' }).send(text);
    } catch (error) {
      next(error);
    }
  };
}
