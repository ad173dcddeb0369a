// Credentials for a remote registry, resolved per repository by the caller (they live in the secret store):
// username/password pairs and bearer tokens, and the fingerprints that key caches without holding the secret.
import { createHash } from 'node:crypto';

export type RegistryCredential = { username: string; password: string } | { token: string };

/**
 * Resolves the credential for the repository a call touches, or `'*'` for registry-wide calls (the catalog,
 * a login check). Undefined means anonymous access.
 */
export type CredentialResolver = (repository: string | '*') => Promise<RegistryCredential | undefined>;

export const anonymousAccess: CredentialResolver = async () => undefined;

export const isTokenCredential = (credential: RegistryCredential): credential is { token: string } => 'token' in credential;

export function basicAuthorization(credential: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64')}`;
}

/**
 * A stable, non-reversible key for a credential, so token caches can tell credentials apart without keeping
 * a readable copy of the secret in their keys.
 */
export function credentialFingerprint(credential: RegistryCredential | undefined): string {
  if (credential === undefined) return 'anonymous';
  const material = isTokenCredential(credential) ? `token\0${credential.token}` : `basic\0${credential.username}\0${credential.password}`;
  return createHash('sha256').update(material).digest('base64url');
}
