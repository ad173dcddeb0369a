// Who is calling, and what their role lets them do. Token checks (tokens.ts) and, later, single sign-on
// both produce a Principal through the Authenticator seam; the HTTP layer only ever sees Principals.

export type Role = 'admin' | 'operator' | 'read';
export const ROLES: readonly Role[] = ['admin', 'operator', 'read'];

export interface Principal {
  name: string;
  role: Role;
  /** A single sign-on user: the issuer and their `sub` there (`name` is their preferred_username, else the sub). */
  sso?: { issuer: string; subject: string };
}

/** Turns a presented bearer credential into a Principal, or undefined when it does not recognise it. */
export interface Authenticator {
  authenticate(bearer: string): Promise<Principal | undefined>;
}

/** Tries each authenticator in order (API tokens first; an OIDC verifier can be appended). */
export function firstOf(authenticators: Authenticator[]): Authenticator {
  return {
    async authenticate(bearer) {
      for (const a of authenticators) {
        const principal = await a.authenticate(bearer);
        if (principal) return principal;
      }
      return undefined;
    },
  };
}

export type Action = { method: string; path: string };

/**
 * The role rules: `admin` everything; `operator` reads, invokes operations (POST under /v1/state/) and deletes
 * tags and images of the site registry (DELETE under /v1/state/image-registry/repositories/); `read` only reads.
 * System configuration (tokens) is for admins alone, reads included.
 */
export function isAllowed(role: Role, { method, path }: Action): boolean {
  if (role === 'admin') return true;
  if (path.startsWith('/v1/config/system/')) return false;
  const reading = method === 'GET' || method === 'HEAD';
  if (role === 'read') return reading;
  // Deleting tags and images of the site registry is routine work on a site, like pulling: operators may.
  const deletesSiteImages = method === 'DELETE' && path.startsWith('/v1/state/image-registry/repositories/');
  return reading || (method === 'POST' && path.startsWith('/v1/state/')) || deletesSiteImages;
}
