// Credentials for one remote registry: the entry resolved for a repository, read from the secret store and
// checked to hold `username`+`password` or `token`. Each secret is kept for a short while, so a busy operation
// reads it once, and a rotated secret is picked up within SECRET_CACHE_MS.
import { invalidInput, upstreamFailure } from '../errors.js';
import type { CredentialResolver, RegistryCredential } from '../oci/index.js';
import type { RemoteRegistry } from '../image-registry/remote-registry.js';
import { resolveCredentialEntry } from './credential-resolution.js';
import type { SecretStore } from './secret-store.js';

/** How long a secret read from the store is reused. */
export const SECRET_CACHE_MS = 15_000;

const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** The registry credential a secret holds; errors name the vault and secret, never a value. */
export function credentialFromSecret(data: Record<string, unknown>, vault: string, secret: string): RegistryCredential {
  if (nonEmptyString(data.username) && nonEmptyString(data.password)) return { username: data.username, password: data.password };
  if (nonEmptyString(data.token)) return { token: data.token };
  throw upstreamFailure(`secret '${secret}' in vault '${vault}' has neither username and password nor token`, { kind: 'secret-malformed', vault, secret });
}

/**
 * A CredentialResolver for the OCI client. Without a secret store, a registry whose entries would need one
 * cannot be reached with credentials: that is reported, not silently turned into anonymous access.
 */
export function registryCredentials(registry: RemoteRegistry, store: SecretStore | undefined, cacheMs = SECRET_CACHE_MS): CredentialResolver {
  const cache = new Map<string, { credential: Promise<RegistryCredential>; until: number }>();
  return async (repository) => {
    const entry = resolveCredentialEntry(registry.credentials ?? [], repository);
    if (!entry) return undefined;
    if (!store) {
      throw invalidInput(`remote registry '${registry.address}' needs secret '${entry.secret}' in vault '${entry.vault}', but no secret store is configured (VAULT_ADDR)`, {
        kind: 'no-secret-store',
        vault: entry.vault,
        secret: entry.secret,
      });
    }
    const key = `${entry.vault}\u0000${entry.secret}`;
    const cached = cache.get(key);
    if (cached && cached.until > Date.now()) return cached.credential;
    const credential = store.readKv2(entry.vault, entry.secret).then((data) => credentialFromSecret(data, entry.vault, entry.secret));
    cache.set(key, { credential, until: Date.now() + cacheMs });
    // A failed read is not remembered: the next call asks the store again.
    credential.catch(() => cache.delete(key));
    return credential;
  };
}
