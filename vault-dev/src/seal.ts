// Seal state: initialisation (root key generation and Shamir split), the unseal key collection
// with its progress and nonce, and sealing. Mirrors Vault's Shamir seal, including its messages.
//
// The root key exists only in memory while it opens the barrier; the key shares go to the operator.

import { randomBytes, randomUUID } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { Barrier, BarrierKeyError, ROOT_KEY_BYTES } from './barrier.js';
import type { PhysicalStore } from './storage.js';
import { badRequest } from './vault-error.js';

const SEAL_CONFIG_BLOB = 'seal-config';
/** Vault's barrier key length bounds; a Shamir share adds one byte (the x coordinate). */
const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = ROOT_KEY_BYTES + 1;

export interface SealConfig {
  type: 'shamir';
  secret_shares: number;
  secret_threshold: number;
}

interface UnlockProgress {
  nonce: string;
  parts: Buffer[];
}

export class SealManager {
  private unlock: UnlockProgress | undefined;

  private constructor(
    private readonly store: PhysicalStore,
    private readonly barrier: Barrier,
    private config: SealConfig | undefined,
  ) {}

  static async load(store: PhysicalStore, barrier: Barrier): Promise<SealManager> {
    const raw = await store.get(SEAL_CONFIG_BLOB);
    const config = raw ? (JSON.parse(raw.toString('utf8')) as SealConfig) : undefined;
    return new SealManager(store, barrier, config);
  }

  get initialized(): boolean {
    return this.config !== undefined;
  }

  get sealed(): boolean {
    return this.barrier.sealed;
  }

  get sealConfig(): SealConfig | undefined {
    return this.config;
  }

  get progress(): { progress: number; nonce: string } {
    return { progress: this.unlock?.parts.length ?? 0, nonce: this.unlock?.nonce ?? '' };
  }

  /**
   * Generates the root key, creates the barrier under it, lets `bootstrap` write the initial
   * entries (root token, mounts, policies) and seals again. The seal config is written last: it is
   * the marker that initialisation completed, so a crash half-way leaves the vault uninitialised.
   */
  async initialize(shares: number, threshold: number, bootstrap: () => Promise<void>): Promise<Buffer[]> {
    validateSealConfig(shares, threshold);
    if (this.config) throw badRequest('Vault is already initialized');
    const rootKey = randomBytes(ROOT_KEY_BYTES);
    try {
      await this.barrier.initialize(rootKey);
      await bootstrap();
      this.barrier.seal();
      // One share is the root key itself, as in Vault; the library splits into 2 to 255 shares.
      const keys =
        shares === 1
          ? [Buffer.from(rootKey)]
          : (await split(new Uint8Array(rootKey), shares, threshold)).map((share) => Buffer.from(share));
      const config: SealConfig = { type: 'shamir', secret_shares: shares, secret_threshold: threshold };
      await this.store.put(SEAL_CONFIG_BLOB, Buffer.from(JSON.stringify(config)));
      this.config = config;
      return keys;
    } finally {
      rootKey.fill(0);
      this.barrier.seal();
    }
  }

  /** Records one unseal key; once the threshold is reached, combines them and opens the barrier. */
  async submitUnsealKey(key: Buffer): Promise<void> {
    const config = this.config;
    if (!config) throw badRequest('Vault is not initialized');
    if (key.length < MIN_KEY_BYTES) throw badRequest(`invalid key: key is shorter than minimum ${MIN_KEY_BYTES} bytes`);
    if (key.length > MAX_KEY_BYTES) throw badRequest(`invalid key: key is longer than maximum ${MAX_KEY_BYTES} bytes`);
    if (!this.barrier.sealed) return;

    const unlock = (this.unlock ??= { nonce: randomUUID(), parts: [] });
    // Vault silently ignores a share it already has.
    if (unlock.parts.some((part) => part.equals(key))) return;
    unlock.parts.push(Buffer.from(key));
    if (unlock.parts.length < config.secret_threshold) return;

    // Whatever happens now, this attempt is over: the next key starts a new one.
    this.unlock = undefined;
    let rootKey: Buffer;
    if (config.secret_threshold === 1) {
      rootKey = Buffer.from(unlock.parts[0]!);
    } else {
      try {
        rootKey = Buffer.from(await combine(unlock.parts.map((part) => new Uint8Array(part))));
      } catch (err) {
        throw badRequest(`invalid key: failed to compute combined key: ${(err as Error).message}`);
      }
    }
    try {
      await this.barrier.unseal(rootKey);
    } catch (err) {
      if (err instanceof BarrierKeyError) {
        throw badRequest(
          `unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: ${err.reason}`,
        );
      }
      throw err;
    } finally {
      rootKey.fill(0);
      for (const part of unlock.parts) part.fill(0);
    }
  }

  resetUnseal(): void {
    this.unlock = undefined;
  }

  seal(): void {
    this.unlock = undefined;
    this.barrier.seal();
  }
}

/** Vault's SealConfig.Validate, with the prefix its init handler adds. */
function validateSealConfig(shares: number, threshold: number): void {
  const problem = (() => {
    if (shares < 1) return 'shares must be at least one';
    if (threshold < 1) return 'threshold must be at least one';
    if (shares > 1 && threshold < 2) return 'threshold must be greater than one for multiple shares';
    if (shares > 255) return 'shares must be less than 256';
    if (threshold > 255) return 'threshold must be less than 256';
    if (threshold > shares) return 'threshold cannot be larger than shares';
    return undefined;
  })();
  if (problem) throw badRequest(`invalid seal configuration: ${problem}`);
}
