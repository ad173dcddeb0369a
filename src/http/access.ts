// Access control for /v1: a bearer token is required, resolved to a Principal, and the Principal's role must
// allow the operation the request resolved to (path-grammar.ts). 401 (with WWW-Authenticate: Bearer) without a
// known token, 403 when the role forbids it.
import type { Request, RequestHandler } from 'express';
import { forbidden, unauthenticated } from '../errors.js';
import { isAllowed, type Authenticator, type Principal } from '../auth/principal.js';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/**
 * The bearer token of an `Authorization: Bearer <token>` header, if any. Up to 16 KiB, Node's limit for all headers:
 * an identity provider's JWT with many groups in it outgrows 4 KiB.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+([\x21-\x7e]{1,16384})[ \t]*$/i.exec(authorization ?? '');
  return match?.[1];
}

/** Who is calling: 401 unless the request carries a known token. Runs before anything that could answer otherwise. */
export function authenticate(authenticator: Authenticator): RequestHandler {
  return async (req: Request, _res, next) => {
    try {
      const token = bearerToken(req.get('authorization'));
      if (!token) throw unauthenticated('missing bearer token: send Authorization: Bearer <token>');
      const principal = await authenticator.authenticate(token);
      if (!principal) throw unauthenticated('unknown or revoked token');
      req.principal = principal;
      next();
    } catch (e) {
      next(e);
    }
  };
}

/** Whether the caller's role allows the operation (and the `?site=` it names): 403 otherwise. */
export const authorize: RequestHandler = (req, _res, next) => {
  const principal = req.principal!;
  const operation = req.operation!;
  // Present in any form (even repeated, which the contract refuses later), `site` counts.
  const site = req.query.site === undefined ? undefined : String(req.query.site);
  if (!isAllowed(principal.role, { method: req.method, path: operation.template, site })) {
    const where = site === undefined ? '' : ` at site '${site}'`;
    return next(forbidden(`role '${principal.role}' may not ${req.method} ${operation.template}${where}`));
  }
  next();
};
