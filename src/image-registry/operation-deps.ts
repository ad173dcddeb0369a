// What the operations on remote registries work with; built once in app.ts and handed to their routes.
import type { ConfigList } from '../config/config-list.js';
import type { SiteRegistry } from '../registry/index.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { RegistryClients } from './registry-clients.js';
import type { RemoteRegistry } from './remote-registry.js';
import type { VerificationLog } from './operations/verification-status.js';
import type { Limits } from '../limits.js';

export interface OperationDeps {
  registries: ConfigList<RemoteRegistry>;
  clients: RegistryClients;
  /** Absent when no secret store is configured. */
  secrets: SecretStore | undefined;
  siteRegistry: SiteRegistry;
  /** The last verify-credentials outcome per registry, shown in its state. */
  verifications: VerificationLog;
  /** Bounds on what one operation fetches and holds. */
  limits: Limits;
}
