// Who is calling, and what their role lets them do. Token checks (tokens.ts) and, later, single sign-on
// both produce a Principal through the Authenticator seam; the HTTP layer only ever sees Principals.

/** The roles, one list for the contract (`Role`), the API, the token store and cache, and /v2. */
export const ROLES = ['admin', 'operator', 'read', 'site'] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (value: unknown): value is Role => (ROLES as readonly unknown[]).includes(value);

export interface Principal {
  name: string;
  role: Role;
  /** For role `site`: the one site this principal is (it reads the change feed as that site only). */
  site?: string;
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

export interface Action {
  method: string;
  /** The contract path template the request resolved to, e.g. `/v1/config/sites/{site-name}`: never a raw spelling. */
  path: string;
  /** `?site=`: the site the request is to be carried out at, when it names one. */
  site?: string | undefined;
}

/** What a site token exists for: following the tower's configuration, and reporting its desired images. */
const SITE_FEED: ReadonlySet<string> = new Set(['/v1/state/system/changes', '/v1/state/system/snapshot']);
const SITE_REPORT = '/v1/state/system/site-report';

/**
 * For admins alone, reads included: system configuration (tokens), and the audit trail, which tells who holds which
 * token and when each was made or revoked, and shows the whole history of the configuration.
 */
const isAdminOnly = (path: string) => path.startsWith('/v1/config/system/') || path === '/v1/state/system/audit';

/**
 * The role rules: `admin` everything but a site's report; `operator` reads, invokes operations (POST under
 * /v1/state/) and deletes tags and images of the site registry (DELETE under /v1/state/image-registry/repositories/);
 * `read` only reads; `site` reads the change feed and the snapshot, here only (never through `?site=`), and alone
 * sends a site's report. System configuration (tokens) and the audit trail are for admins alone, reads included. A
 * role outside the enum (a corrupt or foreign store entry) may do nothing. `/metrics` (outside /v1) is read by every
 * role that reads: admin, operator, read.
 */
export function isAllowed(role: Role, { method, path, site }: Action): boolean {
  // A site's report is about that site: only its own token sends one, whatever other roles may do.
  if (path === SITE_REPORT) return role === 'site' && method === 'POST' && site === undefined;
  const reading = method === 'GET' || method === 'HEAD';
  switch (role) {
    case 'admin':
      return true;
    case 'site':
      return reading && SITE_FEED.has(path) && site === undefined;
    case 'read':
      return reading && !isAdminOnly(path);
    case 'operator': {
      if (isAdminOnly(path)) return false;
      // Deleting tags and images of the site registry is routine work on a site, like pulling: operators may.
      const deletesSiteImages = method === 'DELETE' && path.startsWith('/v1/state/image-registry/repositories/');
      return reading || (method === 'POST' && path.startsWith('/v1/state/')) || deletesSiteImages;
    }
    default: {
      const unknown: never = role;
      void unknown;
      return false;
    }
  }
}
