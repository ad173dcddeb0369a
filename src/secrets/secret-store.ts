// The secret store: anything that speaks the HashiCorp Vault HTTP API (Vault, OpenBao, Berth's vault-dev),
// reached through node-vault. Reads KV version 2 secrets and the seal status; failures become typed errors.
// node-vault (with axios under it) loads when the first call is made: only a Berth given VAULT_ADDR pays for it.
import { createRequire } from 'node:module';
import type vault from 'node-vault';
import { BerthError, unavailable, upstreamFailure } from '../errors.js';
import { secretMetrics } from './secret-metrics.js';
import type { SealState } from './seal-state.js';
import { Lazy } from '../lazy.js';

const require = createRequire(import.meta.url);
/** Resolved at start, so its package.json is read while file descriptors are surely free (see http/undici.ts). */
const nodeVaultEntry = require.resolve('node-vault');

export interface SecretStoreSettings {
  /** VAULT_ADDR */
  address: string;
  /** VAULT_TOKEN */
  token: string;
  /** VAULT_CACERT: PEM of the CA to trust for an https address. */
  caCertPem?: string;
}

/** Seconds a client is asked to wait while the secret store is sealed or unreachable. */
export const SECRET_STORE_RETRY_AFTER_SECONDS = 5;

export const sealedError = () =>
  unavailable('the secret store is sealed; unseal it and Berth serves again within seconds', SECRET_STORE_RETRY_AFTER_SECONDS, { 'secret-store': 'sealed' });
/** The store's address is the operator's to know (the log has it), never a caller's: answers do not name it. */
export const unreachableError = () =>
  unavailable('the secret store is unreachable; Berth serves again within seconds of reaching it', SECRET_STORE_RETRY_AFTER_SECONDS, { 'secret-store': 'unreachable' });

/** The kind of a failed read: `sealed`, `unreachable`, or the upstream kind (`secret-missing`, ...). */
function errorKindOf(error: unknown): string {
  if (!(error instanceof BerthError)) return 'secret-store-error';
  const kind = error.info?.kind ?? error.info?.['secret-store'];
  return typeof kind === 'string' ? kind : 'secret-store-error';
}

export interface SecretStore {
  readonly address: string;
  /** The `data` of the latest version of `<mount>/data/<path>`. Throws typed errors, never with secret values. */
  readKv2(mount: string, path: string): Promise<Record<string, unknown>>;
  sealState(): Promise<SealState>;
  /** Called when any call sees the store sealed or unreachable, so the seal monitor can react at once. */
  onTrouble?: (state: Exclude<SealState, 'unsealed'>) => void;
}

const REQUEST_TIMEOUT_MS = 5_000;

interface VaultFailure {
  response?: { statusCode?: number };
  code?: string;
  message?: string;
}

export class VaultSecretStore implements SecretStore {
  readonly address: string;
  /** Why the last look at the seal status failed. */
  lastProblem: string | undefined;
  onTrouble?: (state: Exclude<SealState, 'unsealed'>) => void;
  private readonly client = new Lazy<vault.client>(() =>
    // Required, not imported: a failed ES import stays failed for the life of the process (see http/undici.ts).
    Promise.resolve().then(() =>
      (require(nodeVaultEntry) as typeof vault)({
        apiVersion: 'v1',
        endpoint: this.settings.address,
        token: this.settings.token,
        // Node's HTTP parser (vault-dev's) rejects the LIST verb; GET ?list=true is what real Vault accepts too.
        noCustomHTTPVerbs: true,
        requestOptions: { timeout: REQUEST_TIMEOUT_MS, ...(this.settings.caCertPem ? { ca: this.settings.caCertPem } : {}) },
      } as vault.VaultOptions),
    ),
  );

  constructor(private readonly settings: SecretStoreSettings) {
    this.address = settings.address;
  }

  private open(): Promise<vault.client> {
    return this.client.get();
  }

  private translate(e: unknown, what: string): BerthError {
    const failure = e as VaultFailure;
    const status = failure.response?.statusCode;
    if (status === 503) {
      this.onTrouble?.('sealed');
      return sealedError();
    }
    if (status === undefined) {
      this.onTrouble?.('unreachable');
      return unreachableError();
    }
    if (status === 404) return upstreamFailure(`${what} does not exist in the secret store`, { kind: 'secret-missing' });
    if (status === 403) return upstreamFailure(`${what} cannot be read with Berth's secret store token (permission denied)`, { kind: 'secret-forbidden' });
    return upstreamFailure(`${what}: the secret store answered ${status}`, { kind: 'secret-store-error', status });
  }

  async readKv2(mount: string, path: string): Promise<Record<string, unknown>> {
    const what = `secret '${path}' in vault '${mount}'`;
    return secretMetrics.reading(async () => {
      try {
        const answer = (await (await this.open()).read(`${mount}/data/${path}`)) as { data?: { data?: unknown } };
        const data = answer.data?.data;
        if (!data || typeof data !== 'object') throw upstreamFailure(`${what} has no data (deleted or destroyed)`, { kind: 'secret-missing' });
        return data as Record<string, unknown>;
      } catch (e) {
        throw e instanceof BerthError ? e : this.translate(e, what);
      }
    }, errorKindOf);
  }

  async sealState(): Promise<SealState> {
    try {
      const status = (await (await this.open()).status()) as { sealed?: boolean };
      return status.sealed ? 'sealed' : 'unsealed';
    } catch (e) {
      const failure = e as VaultFailure;
      // Why it could not be reached, for the log line that says so (a code or a timeout; never a secret).
      this.lastProblem = failure.response?.statusCode !== undefined ? `status ${failure.response.statusCode}` : (failure.code ?? failure.message ?? 'unknown');
      return failure.response?.statusCode === 503 ? 'sealed' : 'unreachable';
    }
  }
}
