// One RegistryClient (and so one keep-alive connection pool and one token cache) per remote registry, shared by
// every operation on it. A client is replaced when the registry's configuration changes (transport/clients-by-revision.ts).
import { RegistryClient } from '../oci/index.js';
import type { Versioned } from '../config/config-list.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { registryCredentials } from './registry-credentials.js';
import type { RemoteRegistry } from './remote-registry.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { ClientsByRevision, ConcurrencyLimit } from '../transport/index.js';

export class RegistryClients {
  private readonly clients = new ClientsByRevision<RegistryClient>();
  /** One download limit per registry address, kept across its configuration revisions. */
  private readonly downloads = new Map<string, ConcurrencyLimit>();

  constructor(
    private readonly secrets: SecretStore | undefined,
    /** Requests in flight to one registry at once (its pool's connections), and the largest manifest read. */
    private readonly limits: Pick<Limits, 'remoteFetches' | 'manifestBytes'> = DEFAULT_LIMITS,
  ) {}

  /** The client for this version of the registry's configuration. */
  clientFor({ value: registry, revision }: Versioned<RemoteRegistry>): RegistryClient {
    return this.clients.get(registry.address, revision, () =>
      new RegistryClient(
        {
          address: registry.address,
          ...(registry['override-address'] ? { overrideAddress: registry['override-address'] } : {}),
          ...(registry['ca-cert'] ? { caCertPem: registry['ca-cert'] } : {}),
        },
        {
          credentialFor: registryCredentials(registry, this.secrets),
          connections: this.limits.remoteFetches,
          maxManifestBytes: this.limits.manifestBytes,
          downloads: this.downloadsOf(registry.address),
        },
      ),
    );
  }

  private downloadsOf(address: string): ConcurrencyLimit {
    let limit = this.downloads.get(address);
    if (!limit) {
      limit = new ConcurrencyLimit(this.limits.remoteFetches);
      this.downloads.set(address, limit);
    }
    return limit;
  }

  close(): Promise<void> {
    return this.clients.close();
  }
}
