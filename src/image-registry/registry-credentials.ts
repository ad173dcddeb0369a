// Credentials for one remote registry: the entry resolved for a repository, read from the secret store (kept for a
// short while, see cached-secret-reads.ts) and checked to hold `username`+`password` or `token`.
import { invalidInput, upstreamFailure } from '../errors.js';
import type { CredentialResolver, RegistryCredential } from '../oci/index.js';
import type { RemoteRegistry } from './remote-registry.js';
import { resolveCredentialEntry } from './credential-resolution.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { cachedSecretReads, SECRET_CACHE_MS } from '../secrets/cached-secret-reads.js';

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
  const secrets = store && cachedSecretReads(store, cacheMs);
  return async (repository) => {
    const entry = resolveCredentialEntry(registry.credentials ?? [], repository);
    if (!entry) return undefined;
    if (!secrets) {
      throw invalidInput(`remote registry '${registry.address}' needs secret '${entry.secret}' in vault '${entry.vault}', but no secret store is configured (VAULT_ADDR)`, {
        kind: 'no-secret-store',
        vault: entry.vault,
        secret: entry.secret,
      });
    }
    return credentialFromSecret(await secrets.read(entry.vault, entry.secret), entry.vault, entry.secret);
  };
}
