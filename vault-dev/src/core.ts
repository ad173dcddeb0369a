// The vault core: seal state, the barrier, tokens, policies and mounts put together, and the
// path of every logical request (sealed check, token, existence check, ACL, routing, backend).
// HTTP framing stays in server.ts; this is the part a different transport could reuse.

import { Barrier } from './barrier.js';
import { newUuid, randomBase62 } from './ids.js';
import { Kv2Backend } from './kv2.js';
import { leaseLimits, VAULT_MAX_LEASE_TTL_SECONDS } from './lease-ttl.js';
import type { JsonObject, LogicalBackend, LogicalResponse, Operation } from './logical.js';
import { MountTable } from './mounts.js';
import { PolicyStore } from './policy-store.js';
import { SealManager } from './seal.js';
import { SerialQueue } from './serial-queue.js';
import type { PhysicalStore } from './storage.js';
import { SysBackend } from './sys-backend.js';
import { TokenBackend } from './token-backend.js';
import { TokenReaper } from './token-reaper.js';
import { TokenStore } from './tokens.js';
import { BUILD_DATE, VAULT_VERSION } from './version.js';
import { badRequest, invalidToken, permissionDenied, sealedError, VaultError } from './vault-error.js';

const CLUSTER_KEY = 'core/cluster';

export interface ClusterInfo {
  name: string;
  id: string;
}

export interface LogicalCall {
  operation: Operation;
  /** Path below /v1/, with the trailing `/` Vault adds for list operations. */
  path: string;
  data: JsonObject;
  clientToken: string | undefined;
}

export interface CoreSettings {
  /** Seconds; no token lives longer than this after its creation (Vault's max_lease_ttl). */
  maxLeaseTtl: number;
}

export const DEFAULT_CORE_SETTINGS: CoreSettings = { maxLeaseTtl: VAULT_MAX_LEASE_TTL_SECONDS };

export interface LogicalResult {
  response: LogicalResponse | undefined;
  mountType: string;
  operation: Operation;
}

export class VaultCore {
  private readonly queue = new SerialQueue();
  private readonly tokens: TokenStore;
  private readonly policies: PolicyStore;
  private readonly mounts: MountTable;
  private readonly sys: SysBackend;
  private readonly tokenBackend: TokenBackend;
  private readonly reaper: TokenReaper;

  private constructor(
    private readonly store: PhysicalStore,
    private readonly barrier: Barrier,
    private readonly sealManager: SealManager,
    settings: CoreSettings,
  ) {
    this.reaper = new TokenReaper(() => this.queue.run(async () => (this.sealed ? null : this.tokens.revokeExpired())));
    this.tokens = new TokenStore(barrier, (expiresAt) => this.reaper.wakeBy(expiresAt));
    this.policies = new PolicyStore(barrier);
    this.mounts = new MountTable(barrier);
    this.sys = new SysBackend(this.mounts, this.policies);
    this.tokenBackend = new TokenBackend(this.tokens, leaseLimits(settings.maxLeaseTtl));
  }

  static async open(store: PhysicalStore, settings: CoreSettings = DEFAULT_CORE_SETTINGS): Promise<VaultCore> {
    const barrier = new Barrier(store);
    const sealManager = await SealManager.load(store, barrier);
    if (!sealManager.initialized && (await barrier.hasKeyring())) {
      // A keyring without a seal config is an initialisation that crashed; init starts over.
      process.stderr.write('vault-dev: found an incomplete initialisation; the vault is uninitialised\n');
    }
    return new VaultCore(store, barrier, sealManager, settings);
  }

  get initialized(): boolean {
    return this.sealManager.initialized;
  }

  get sealed(): boolean {
    return this.sealManager.sealed;
  }

  get storageType(): string {
    return this.store.kind;
  }

  /** Cluster name and id; only known while unsealed, as in Vault. */
  get cluster(): ClusterInfo | undefined {
    return this.sealed ? undefined : this.barrier.get<ClusterInfo>(CLUSTER_KEY);
  }

  /** The body of sys/seal-status (and of sys/unseal answers). */
  sealStatus(): Record<string, unknown> {
    const config = this.sealManager.sealConfig;
    const { progress, nonce } = this.sealManager.progress;
    const cluster = this.cluster;
    return {
      type: 'shamir',
      initialized: this.initialized,
      sealed: this.sealed,
      t: config?.secret_threshold ?? 0,
      n: config?.secret_shares ?? 0,
      progress,
      nonce,
      version: VAULT_VERSION,
      build_date: BUILD_DATE,
      migration: false,
      ...(cluster ? { cluster_name: cluster.name, cluster_id: cluster.id } : {}),
      recovery_seal: false,
      storage_type: this.storageType,
    };
  }

  /** sys/init: returns the key shares and the root token. The vault stays sealed. */
  initialize(shares: number, threshold: number, rootTokenId?: string): Promise<{ keys: Buffer[]; rootToken: string }> {
    return this.queue.run(async () => {
      let rootToken = '';
      const keys = await this.sealManager.initialize(shares, threshold, async () => {
        await this.barrier.put(CLUSTER_KEY, {
          name: `vault-cluster-${randomBase62(8).toLowerCase()}`,
          id: newUuid(),
        } satisfies ClusterInfo);
        await this.policies.bootstrap();
        await this.mounts.bootstrap();
        rootToken = await this.tokens.createRoot(rootTokenId);
      });
      return { keys, rootToken };
    });
  }

  submitUnsealKey(key: Buffer): Promise<void> {
    return this.queue.run(async () => {
      await this.sealManager.submitUnsealKey(key);
      // Tokens that expired while sealed (or while stopped) are revoked at once.
      if (!this.sealed) this.reaper.wakeBy(Date.now());
    });
  }

  resetUnseal(): void {
    this.sealManager.resetUnseal();
  }

  /** sys/seal: needs a token allowed `update` and `sudo` on sys/seal. Sealing a sealed vault is a no-op. */
  seal(clientToken: string | undefined): Promise<void> {
    return this.queue.run(async () => {
      if (this.sealed) return;
      const entry = this.authenticate(clientToken);
      if (!this.policies.aclFor(entry.policies).allows('sys/seal', 'update', true)) throw permissionDenied();
      this.sealManager.seal();
      this.reaper.stop();
      this.policies.forget();
    });
  }

  /** Resolves once every operation already queued (and so every write in flight) has finished. */
  drain(): Promise<void> {
    return this.queue.run(async () => undefined);
  }

  handleLogical(call: LogicalCall): Promise<LogicalResult> {
    return this.queue.run(() => this.handleLogicalNow(call));
  }

  private async handleLogicalNow(call: LogicalCall): Promise<LogicalResult> {
    if (this.sealed) throw sealedError();
    let operation = call.operation;
    if (call.path.endsWith('/') && (operation === 'update' || operation === 'create' || operation === 'patch')) {
      throw badRequest("cannot write to a path ending in '/'");
    }
    const clientToken = call.clientToken ?? '';
    const token = this.authenticate(call.clientToken);
    const route = this.route(call.path);

    // Vault's existence check turns a write into `create` or `update` for the ACL.
    if (route && operation === 'update') {
      const exists = route.backend.exists?.(route.relativePath);
      if (exists === false) operation = 'create';
    }
    // None of the logical paths vault-dev serves is root-protected (sys/seal is served apart).
    const acl = this.policies.aclFor(token.policies);
    if (!acl.allows(call.path, operation)) throw permissionDenied();
    if (!route) throw new VaultError(404, [`no handler for route "${call.path}". route entry not found.`]);

    const lastUse = await this.tokens.consumeUse(clientToken);
    try {
      const response = await route.backend.handle({
        operation,
        path: route.relativePath,
        data: call.data,
        token,
        clientToken,
        sudoAllowed: acl.hasSudo(call.path, operation === 'list'),
      });
      return { response, mountType: route.backend.mountType, operation };
    } finally {
      if (lastUse) await this.tokens.revoke(clientToken);
    }
  }

  private authenticate(clientToken: string | undefined) {
    if (!clientToken) throw permissionDenied();
    const entry = this.tokens.lookup(clientToken);
    if (!entry) throw invalidToken();
    return entry;
  }

  private route(path: string): { backend: LogicalBackend; relativePath: string } | undefined {
    if (path.startsWith('sys/')) return { backend: this.sys, relativePath: path.slice('sys/'.length) };
    if (path.startsWith('auth/token/')) {
      return { backend: this.tokenBackend, relativePath: path.slice('auth/token/'.length) };
    }
    const mount = this.mounts.find(path);
    if (!mount || mount.type !== 'kv') return undefined;
    return { backend: new Kv2Backend(this.barrier, mount), relativePath: path.slice(mount.path.length) };
  }
}
