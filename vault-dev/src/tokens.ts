// The token store: the root token from init, child tokens from auth/token/create, their expiry,
// use counts and revocation (a revoked token takes its non-orphan children with it).
// Tokens are kept behind the barrier under a hash of their value.

import type { Barrier } from './barrier.js';
import { newAccessor, newServiceToken, tokenHash } from './ids.js';

const PREFIX = 'sys/token/id/';
/** Vault's system max lease TTL (768h), the TTL of a token created without one. */
export const DEFAULT_TOKEN_TTL_SECONDS = 768 * 3600;

export interface TokenEntry {
  accessor: string;
  policies: string[];
  meta: Record<string, string> | null;
  displayName: string;
  numUses: number;
  /** Unix milliseconds. */
  issuedAt: number;
  /** Seconds the token was created with; 0 = never expires. */
  creationTtl: number;
  /** Unix milliseconds, or null for tokens that never expire. */
  expiresAt: number | null;
  explicitMaxTtl: number;
  renewable: boolean;
  path: string;
  parentHash: string | null;
}

export interface NewToken {
  policies: string[];
  meta: Record<string, string> | null;
  displayName: string;
  numUses: number;
  ttl: number;
  explicitMaxTtl: number;
  renewable: boolean;
  path: string;
  parentHash: string | null;
  /** A caller-chosen token value (root or sudo only); generated otherwise. */
  id?: string;
}

export class TokenStore {
  constructor(private readonly barrier: Barrier) {}

  async createRoot(id: string | undefined): Promise<string> {
    return (
      await this.create({
        policies: ['root'],
        meta: null,
        displayName: 'root',
        numUses: 0,
        ttl: 0,
        explicitMaxTtl: 0,
        renewable: false,
        path: 'auth/token/root',
        parentHash: null,
        ...(id ? { id } : {}),
      })
    ).id;
  }

  async create(spec: NewToken): Promise<{ id: string; entry: TokenEntry }> {
    const id = spec.id ?? newServiceToken();
    const now = Date.now();
    const entry: TokenEntry = {
      accessor: newAccessor(),
      policies: spec.policies,
      meta: spec.meta,
      displayName: spec.displayName,
      numUses: spec.numUses,
      issuedAt: now,
      creationTtl: spec.ttl,
      expiresAt: spec.ttl > 0 ? now + spec.ttl * 1000 : null,
      explicitMaxTtl: spec.explicitMaxTtl,
      renewable: spec.ttl > 0 && spec.renewable,
      path: spec.path,
      parentHash: spec.parentHash,
    };
    await this.barrier.put(PREFIX + tokenHash(id), entry);
    return { id, entry };
  }

  exists(id: string): boolean {
    return this.barrier.get(PREFIX + tokenHash(id)) !== undefined;
  }

  /** The entry of a live token; undefined for unknown, revoked or expired tokens. */
  lookup(id: string): TokenEntry | undefined {
    const entry = this.barrier.get<TokenEntry>(PREFIX + tokenHash(id));
    if (!entry) return undefined;
    if (entry.expiresAt !== null && Date.now() >= entry.expiresAt) return undefined;
    return entry;
  }

  /** Counts one use of a limited-use token; returns true when that was its last use. */
  async consumeUse(id: string): Promise<boolean> {
    const entry = this.lookup(id);
    if (!entry || entry.numUses === 0) return false;
    if (entry.numUses === 1) return true;
    await this.barrier.put(PREFIX + tokenHash(id), { ...entry, numUses: entry.numUses - 1 });
    return false;
  }

  /** Extends the TTL by `increment` seconds (default: the creation TTL), capped by explicit_max_ttl. */
  async renew(id: string, increment: number | undefined): Promise<TokenEntry> {
    const entry = this.lookup(id);
    if (!entry) throw new Error('token not found');
    const now = Date.now();
    let ttl = increment && increment > 0 ? increment : entry.creationTtl;
    if (entry.explicitMaxTtl > 0) {
      const maxEnd = entry.issuedAt + entry.explicitMaxTtl * 1000;
      ttl = Math.max(0, Math.min(ttl, Math.floor((maxEnd - now) / 1000)));
    }
    const renewed: TokenEntry = { ...entry, expiresAt: now + ttl * 1000 };
    await this.barrier.put(PREFIX + tokenHash(id), renewed);
    return renewed;
  }

  /** Revokes the token and, recursively, the tokens it created (orphans excepted). */
  async revoke(id: string): Promise<void> {
    await this.revokeByHash(tokenHash(id));
  }

  private async revokeByHash(hash: string): Promise<void> {
    for (const key of this.barrier.keysUnder(PREFIX)) {
      const child = this.barrier.get<TokenEntry>(key);
      if (child?.parentHash === hash) await this.revokeByHash(key.slice(PREFIX.length));
    }
    await this.barrier.delete(PREFIX + hash);
  }

  /** Seconds left before expiry, 0 for tokens that never expire. */
  static remainingTtl(entry: TokenEntry): number {
    return entry.expiresAt === null ? 0 : Math.max(0, Math.round((entry.expiresAt - Date.now()) / 1000));
  }
}
