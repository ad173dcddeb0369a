// At a site, configuration is the control tower's: writes under /v1/config/ answer 403 and say so. Reads, state and
// operations stay. API tokens (/v1/config/system/) are this Berth's own credentials, never replicated, so a site
// still issues and revokes its own (the tower needs one to call the site).
import type { RequestHandler } from 'express';
import { forbidden } from '../errors.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function towerManagedConfig(siteName: string, towerUrl: string): RequestHandler {
  return (req, _res, next) => {
    // The contract operation the request resolved to (path-grammar.ts), never a spelling of it.
    const path = req.operation!.template;
    if (!WRITES.has(req.method) || !path.startsWith('/v1/config/') || path.startsWith('/v1/config/system/')) return next();
    next(
      forbidden(`configuration is managed by the control tower (${towerUrl}): this Berth is site '${siteName}' and applies the tower's configuration; write it at the tower`, {
        'managed-by': towerUrl,
      }),
    );
  };
}
