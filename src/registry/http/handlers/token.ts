// GET /v2/token: the token endpoint of the Docker token flow. Anonymous callers get pull scopes when the site allows
// anonymous pulls; callers with an API token (Basic password, or Bearer) get what their role allows of the scopes
// they ask. The answer carries the token under both names clients read (`token`, `access_token`).
import type { Request, Response } from 'express';
import { authenticateChallenge, callerName, grantsFor, identify, unauthorized, type RegistryAccess } from '../access.js';
import { parseScopes, type RegistryTokens } from '../registry-tokens.js';
import { queryOf } from './route.js';

export function tokenHandler(access: RegistryAccess, tokens: RegistryTokens): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    const caller = await identify(req, access, tokens, () => authenticateChallenge);
    if (caller.kind === 'anonymous' && !access.anonymousPull) throw unauthorized(authenticateChallenge);
    const requested = parseScopes(queryOf(req).getAll('scope'));
    const issued = tokens.issue(grantsFor(caller, requested, access), callerName(caller));
    // A bearer credential: no cache on the way may keep it.
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).json({ token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt });
  };
}
