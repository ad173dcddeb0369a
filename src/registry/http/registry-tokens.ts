// Short-lived tokens of the Docker token flow (the "token authentication specification" that docker, containerd and
// skopeo follow): `/v2/token` hands them out for the scopes a client asks (`repository:team/app:pull,push`) as far as
// the caller may, and /v2 accepts them as `Bearer`. They are signed with HMAC-SHA256 under a key made when the
// process starts, so they need no storage and die with the process (a client then simply asks for a new one).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { RegistryError } from '../registry-error.js';
import { isRepositoryName } from '../repository-name.js';

export type RegistryAction = 'pull' | 'push' | 'delete';
export const REGISTRY_ACTIONS: readonly RegistryAction[] = ['pull', 'push', 'delete'];

/** What a request needs: an action on a repository, or on the registry's catalog. */
export interface Resource {
  type: 'repository' | 'registry';
  /** A repository name, or `catalog`. */
  name: string;
}

/** One entry of a token's `access`: the actions granted on one resource. */
export interface Grant extends Resource {
  actions: RegistryAction[];
}

/** What a valid token says: the grants, and whom it was issued to (none for an anonymous caller). */
export interface VerifiedToken {
  grants: Grant[];
  holder?: string;
}

/** Seconds a token is good for: long enough for a pull or push, short enough that a revoked API token stops soon. */
export const TOKEN_LIFETIME_SECONDS = 300;

const PREFIX = 'berth-registry.';
const MAX_SCOPES = 32;
const MAX_SCOPE_LENGTH = 512;

/**
 * The scopes of a token request: each `scope` parameter holds one or more space-separated `type:name:actions`.
 * Actions outside pull/push/delete (and `*`, all of them) are dropped, as token services do; a malformed scope is a 400.
 */
export function parseScopes(values: string[]): Grant[] {
  const scopes = values.flatMap((v) => v.split(' ')).filter((s) => s !== '');
  if (scopes.length > MAX_SCOPES) throw new RegistryError('UNSUPPORTED', `at most ${MAX_SCOPES} scopes per token request`, undefined, 400);
  return scopes.map((scope) => {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    const type = scope.slice(0, first);
    const name = scope.slice(first + 1, last);
    const malformed = () => new RegistryError('UNSUPPORTED', `malformed scope ${JSON.stringify(scope.slice(0, 200))}: expected repository:NAME:ACTIONS or registry:catalog:*`, undefined, 400);
    if (scope.length > MAX_SCOPE_LENGTH || first <= 0 || last === first) throw malformed();
    if (type === 'repository' ? !isRepositoryName(name) : type !== 'registry' || name !== 'catalog') throw malformed();
    const words = scope.slice(last + 1).split(',');
    const actions = words.includes('*') ? [...REGISTRY_ACTIONS] : REGISTRY_ACTIONS.filter((a) => words.includes(a));
    return { type: type === 'repository' ? 'repository' : 'registry', name, actions };
  });
}

const base64url = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64url');

export class RegistryTokens {
  private readonly key = randomBytes(32);

  constructor(private readonly now: () => number = Date.now) {}

  private sign(payload: string): Buffer {
    return createHmac('sha256', this.key).update(`${PREFIX}${payload}`).digest();
  }

  /**
   * A token granting `grants` (those with no action left out) for TOKEN_LIFETIME_SECONDS, to `holder` (who asked
   * for it: requests made with it count as theirs, e.g. against the upload sessions one caller may keep open).
   */
  issue(grants: Grant[], holder?: string): { token: string; expiresIn: number; issuedAt: string } {
    const issuedAt = this.now();
    const access = grants.filter((g) => g.actions.length > 0);
    const claims = { exp: Math.floor(issuedAt / 1000) + TOKEN_LIFETIME_SECONDS, access, ...(holder !== undefined ? { sub: holder } : {}) };
    const payload = base64url(JSON.stringify(claims));
    return { token: `${PREFIX}${payload}.${base64url(this.sign(payload))}`, expiresIn: TOKEN_LIFETIME_SECONDS, issuedAt: new Date(issuedAt).toISOString() };
  }

  /** Whether `credential` looks like one of these tokens (it may still be forged or expired). */
  static isToken(credential: string): boolean {
    return credential.startsWith(PREFIX);
  }

  /** The grants and holder of a token this process signed and that has not expired; undefined for anything else. */
  verify(token: string): VerifiedToken | undefined {
    if (!RegistryTokens.isToken(token)) return undefined;
    const [payload, signature, ...rest] = token.slice(PREFIX.length).split('.');
    if (payload === undefined || signature === undefined || rest.length > 0) return undefined;
    const expected = this.sign(payload);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp: number; access: Grant[]; sub?: string };
    if (claims.exp * 1000 <= this.now()) return undefined;
    return { grants: claims.access, ...(claims.sub !== undefined ? { holder: claims.sub } : {}) };
  }
}

/** Whether `grants` allow `action` on `resource`. */
export const grantsAllow = (grants: Grant[], resource: Resource, action: RegistryAction): boolean =>
  grants.some((g) => g.type === resource.type && g.name === resource.name && g.actions.includes(action));
