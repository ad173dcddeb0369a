// Who may do what on /v2. Three kinds of caller:
// - a Berth API token, as `Bearer <token>` or as the password of Basic auth (any username): its role decides
//   (`read` pulls, `operator`/`admin` also push and delete, `site` nothing);
// - a token from `/v2/token` (registry-tokens.ts): the scopes it was granted decide;
// - nobody: pulls when the site allows anonymous pulls, and is otherwise challenged.
// The challenge is what makes clients authenticate. Without anonymous pull it is `Basic`: clients send their
// credentials with every request. With anonymous pull it is the Docker token flow (`Bearer realm=...,service=...,
// scope=...`): clients fetch a token from the realm, anonymously to pull or with their credentials to push; the
// ping (`GET /v2/`) is challenged too, since a client that is never challenged never learns to authenticate.
import type { Request } from 'express';
import type { Role } from '../../principal.js';
import { RegistryError } from '../registry-error.js';
import { grantsAllow, REGISTRY_ACTIONS, RegistryTokens, type Grant, type RegistryAction, type Resource } from './registry-tokens.js';

export type RegistryRole = Role;

export interface RegistryIdentity {
  role: Role;
  /** Who is calling, one name per API token or single sign-on user: whose upload sessions are whose. */
  name?: string;
}

export interface RegistryAccess {
  /**
   * Resolves a credential to a role, or undefined when unknown. It receives `Bearer <token>`: Basic credentials
   * are converted here (their password is the token), so it never parses Basic itself.
   */
  authenticate(authorization: string): Promise<RegistryIdentity | undefined>;
  /** When true, GET and HEAD of repositories and the catalog need no credentials. */
  anonymousPull: boolean;
}

/** The `service` of the token flow: the name clients echo back to the realm. */
export const TOKEN_SERVICE = 'berth';

/** What the site registry lets each role do. */
export function registryActionsOf(role: Role): readonly RegistryAction[] {
  switch (role) {
    case 'admin':
    case 'operator':
      return REGISTRY_ACTIONS;
    case 'read':
      return ['pull'];
    case 'site':
      return [];
    default: {
      const unknown: never = role;
      void unknown;
      return [];
    }
  }
}

/**
 * The caller of a request. `name` is who holds the credential (an API token or a single sign-on user; a token from
 * /v2/token carries the name of whoever it was issued to): upload sessions are bounded per name.
 */
export type Caller = { kind: 'anonymous' } | { kind: 'role'; role: Role; name?: string } | { kind: 'token'; grants: Grant[]; name?: string };

/** What a request needs: nothing but a known caller (the ping), or an action on a resource. */
export type Requirement = { resource?: undefined } | { resource: Resource; action: RegistryAction };

/** `Bearer <token>` from either scheme, or undefined for a missing or malformed header. */
export function bearerCredential(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^(\S+)\s+(.+)$/.exec(authorization.trim());
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  const value = match[2]!.trim();
  if (scheme === 'bearer') return `Bearer ${value}`;
  if (scheme !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0 || colon === decoded.length - 1) return undefined;
  return `Bearer ${decoded.slice(colon + 1)}`;
}

/**
 * Who is calling. An Authorization header that names nobody is a 401 even where anonymous access would do:
 * a client that sent credentials wants to be someone, and must learn that it is not.
 */
export async function identify(req: Request, access: RegistryAccess, tokens: RegistryTokens, challenge: () => string): Promise<Caller> {
  if (req.headers.authorization === undefined) return { kind: 'anonymous' };
  const credential = bearerCredential(req.headers.authorization);
  const bearer = credential?.slice('Bearer '.length);
  const granted = bearer !== undefined && RegistryTokens.isToken(bearer) ? tokens.verify(bearer) : undefined;
  if (granted) return { kind: 'token', grants: granted.grants, ...(granted.holder !== undefined ? { name: granted.holder } : {}) };
  const identity = credential === undefined ? undefined : await access.authenticate(credential);
  // Deliberately the same answer for "malformed", "unknown" and "expired": it tells a guesser nothing.
  if (!identity) throw unauthorized(challenge());
  return { kind: 'role', role: identity.role, ...(identity.name !== undefined ? { name: identity.name } : {}) };
}

/** Whose upload sessions a request's would be: the name behind its credential; none for an anonymous caller. */
export const callerName = (caller: Caller): string | undefined => (caller.kind === 'anonymous' ? undefined : caller.name);

/** The challenge that makes skopeo, docker and containerd answer with Basic credentials. */
export const authenticateChallenge = 'Basic realm="berth"';

/** A 401 with the WWW-Authenticate challenge that tells the client how to do better. */
export class UnauthorizedError extends RegistryError {
  constructor(
    readonly challenge: string,
    message: string,
  ) {
    super('UNAUTHORIZED', message);
    this.name = 'UnauthorizedError';
  }
}

export const unauthorized = (challenge: string, message = 'authentication required') => new UnauthorizedError(challenge, message);

/** The challenge for a request: Basic without anonymous pull; the token flow, naming the scope it needs, with it. */
export function challengeFor(req: Request, access: RegistryAccess, requirement: Requirement | undefined, error?: 'insufficient_scope'): string {
  if (!access.anonymousPull && error === undefined) return authenticateChallenge;
  const scope = requirement?.resource ? `,scope="${scopeOf(requirement.resource, requirement.action)}"` : '';
  return `Bearer realm="${realmOf(req)}",service="${TOKEN_SERVICE}"${scope}${error ? `,error="${error}"` : ''}`;
}

/** The scope a client asks for to be allowed `action` (a push also pulls: it checks what is there). */
function scopeOf(resource: Resource, action: RegistryAction): string {
  if (resource.type === 'registry') return 'registry:catalog:*';
  return `repository:${resource.name}:${action === 'push' ? 'pull,push' : action}`;
}

/** Host names, IPv4 and bracketed IPv6 addresses with an optional port; anything else is not echoed into a header. */
const SAFE_HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

/** `scheme://host[:port]` as this client reached Berth: its Host header when that is a plain host, else the socket's address. */
export function originOf(req: Request): string {
  const host = req.get('host');
  const { localAddress = '127.0.0.1', localPort } = req.socket;
  const origin = host && SAFE_HOST.test(host) ? host : `${localAddress.includes(':') ? `[${localAddress}]` : localAddress}:${localPort}`;
  return `${req.protocol}://${origin}`;
}

/** The absolute URL of /v2/token as this client reaches Berth (clients need an absolute realm). */
const realmOf = (req: Request): string => `${originOf(req)}${req.baseUrl}/token`;

/** Throws UNAUTHORIZED (401, with the challenge that lets the client do better) or DENIED (403) unless allowed. */
export function authorize(req: Request, caller: Caller, requirement: Requirement, access: RegistryAccess): void {
  const { resource } = requirement;
  switch (caller.kind) {
    case 'anonymous':
      if (resource && requirement.action === 'pull' && access.anonymousPull) return;
      throw unauthorized(challengeFor(req, access, requirement));
    case 'token':
      if (!resource || grantsAllow(caller.grants, resource, requirement.action)) return;
      throw unauthorized(challengeFor(req, access, requirement, 'insufficient_scope'), `this token does not grant ${requirement.action} on ${resource.name}`);
    case 'role': {
      const actions = registryActionsOf(caller.role);
      if (resource ? actions.includes(requirement.action) : actions.length > 0) return;
      throw new RegistryError('DENIED', actions.length === 0 ? `role '${caller.role}' has no access to the site registry` : 'this credential may only pull');
    }
  }
}

/** The grants a caller gets for the scopes it asked for: what it asked, as far as it may. */
export function grantsFor(caller: Caller, requested: Grant[], access: RegistryAccess): Grant[] {
  const allowed = (): readonly RegistryAction[] => {
    switch (caller.kind) {
      case 'anonymous':
        return access.anonymousPull ? ['pull'] : [];
      case 'role':
        return registryActionsOf(caller.role);
      case 'token':
        // A registry token is not a credential for more tokens: ask with the API token again.
        return [];
    }
  };
  const actions = allowed();
  return requested.map((g) => ({ ...g, actions: g.actions.filter((a) => actions.includes(a)) }));
}
