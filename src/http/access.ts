// Access control for /v1: a bearer token is required, resolved to a Principal, and the Principal's role must
// allow the request. 401 (with WWW-Authenticate: Bearer) without a known token, 403 when the role forbids it.
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

export function requireAccess(authenticator: Authenticator): RequestHandler {
  return async (req: Request, _res, next) => {
    try {
      const token = bearerToken(req.get('authorization'));
      if (!token) throw unauthenticated('missing bearer token: send Authorization: Bearer <token>');
      const principal = await authenticator.authenticate(token);
      if (!principal) throw unauthenticated('unknown or revoked token');
      const path = req.baseUrl + req.path;
      // Express routes paths case-insensitively (/v1/config/SYSTEM/tokens reaches the token routes), so the
      // role rules must judge the path the way the router matches it.
      const action = { method: req.method, path: path.toLowerCase() };
      if (!isAllowed(principal.role, action)) {
        throw forbidden(`role '${principal.role}' may not ${req.method} ${path}`);
      }
      req.principal = principal;
      next();
    } catch (e) {
      next(e);
    }
  };
}
