// Who may do what on /v2: Berth's API token as `Bearer <token>` or as the password of Basic auth (any username);
// `read` pulls, `operator`/`admin` also push and delete; anonymous pulls when the site allows them.
import type { IncomingHttpHeaders } from 'node:http';
import { RegistryError } from '../registry-error.js';

export type RegistryRole = 'admin' | 'operator' | 'read';

export interface RegistryIdentity {
  role: RegistryRole;
  /** The token's name: whose upload sessions are whose. */
  name?: string;
}

export interface RegistryAccess {
  /**
   * Resolves a credential to a role, or undefined when unknown. It receives `Bearer <token>`: Basic credentials
   * are converted here (their password is the token), so it never parses Basic itself. It is called with
   * undefined when the request carried no usable credentials (so it may decide for anonymous callers).
   */
  authenticate(authorization: string | undefined): Promise<RegistryIdentity | undefined>;
  /** When true, GET and HEAD need no credentials. */
  anonymousPull: boolean;
}

/** The challenge that makes skopeo, docker and containerd answer with Basic credentials. */
export const authenticateChallenge = 'Basic realm="berth"';

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

const isPull = (method: string) => method === 'GET' || method === 'HEAD';

/** Throws UNAUTHORIZED (401) or DENIED (403) unless the request may proceed; returns who it is (none when anonymous). */
export async function authorize(method: string, headers: IncomingHttpHeaders, access: RegistryAccess): Promise<RegistryIdentity | undefined> {
  const credential = bearerCredential(headers.authorization);
  if (credential === undefined && isPull(method) && access.anonymousPull) return undefined;
  const identity = await access.authenticate(credential);
  if (!identity) {
    // Deliberately the same answer for "no credentials" and "wrong credentials": it tells a guesser nothing.
    throw new RegistryError('UNAUTHORIZED', 'authentication required');
  }
  if (!isPull(method) && identity.role === 'read') {
    throw new RegistryError('DENIED', 'this credential may only pull');
  }
  return identity;
}
