// One RegistryClient (and so one keep-alive connection pool and one token cache) per remote registry, shared by
// every operation on it. A client is replaced when the registry's configuration changes (a new store revision).
import { RegistryClient } from '../oci/index.js';
import type { Versioned } from '../config/config-list.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { registryCredentials } from '../secrets/registry-credentials.js';
import type { RemoteRegistry } from './remote-registry.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';

interface CachedClient {
  revision: number;
  client: RegistryClient;
}

export class RegistryClients {
  private readonly clients = new Map<string, CachedClient>();

  constructor(
    private readonly secrets: SecretStore | undefined,
    /** Requests in flight to one registry at once (its pool's connections), and the largest manifest read. */
    private readonly limits: Pick<Limits, 'remoteFetches' | 'manifestBytes'> = DEFAULT_LIMITS,
  ) {}

  /** The client for this version of the registry's configuration. */
  clientFor({ value: registry, revision }: Versioned<RemoteRegistry>): RegistryClient {
    const cached = this.clients.get(registry.address);
    if (cached?.revision === revision) return cached.client;
    cached?.client.close().catch(() => {});
    const client = new RegistryClient(
      {
        address: registry.address,
        ...(registry['override-address'] ? { overrideAddress: registry['override-address'] } : {}),
        ...(registry['ca-cert'] ? { caCertPem: registry['ca-cert'] } : {}),
      },
      {
        credentialFor: registryCredentials(registry, this.secrets),
        connections: this.limits.remoteFetches,
        maxManifestBytes: this.limits.manifestBytes,
      },
    );
    this.clients.set(registry.address, { revision, client });
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.client.close().catch(() => {})));
    this.clients.clear();
  }
}
