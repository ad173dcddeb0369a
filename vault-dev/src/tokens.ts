// The token store: the root token from init, child tokens from auth/token/create, their expiry,
// use counts and revocation. A token is valid only while it and every token above it are: a child
// never outlives its parent, and revoking or expiring a token revokes its non-orphan descendants.
// Tokens are kept behind the barrier under a hash of their value.

import type { Barrier } from './barrier.js';
import { newAccessor, newServiceToken, tokenHash } from './ids.js';

const PREFIX = 'sys/token/id/';

export interface TokenEntry {
  accessor: string;
  policies: string[];
  meta: Record<string, string> | null;
  displayName: string;
  numUses: number;
  /** Unix milliseconds. */
  issuedAt: number;
  /** Seconds the token was created with (Vault's te.TTL); 0 = never expires. */
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
  /** Seconds; 0 = never expires. */
  ttl: number;
  explicitMaxTtl: number;
  renewable: boolean;
  path: string;
  parentHash: string | null;
  /** Unix milliseconds. */
  issuedAt: number;
  /** A caller-chosen token value (root or sudo only); generated otherwise. */
  id?: string;
}

export class TokenStore {
  /**
   * @param onExpiry told of every expiry a token is given, so revocation can be scheduled for it.
   */
  constructor(
    private readonly barrier: Barrier,
    private readonly onExpiry: (expiresAt: number) => void,
  ) {}

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
        issuedAt: Date.now(),
        ...(id ? { id } : {}),
      })
    ).id;
  }

  async create(spec: NewToken): Promise<{ id: string; entry: TokenEntry }> {
    const id = spec.id ?? newServiceToken();
    const entry: TokenEntry = {
      accessor: newAccessor(),
      policies: spec.policies,
      meta: spec.meta,
      displayName: spec.displayName,
      numUses: spec.numUses,
      issuedAt: spec.issuedAt,
      creationTtl: spec.ttl,
      expiresAt: spec.ttl > 0 ? spec.issuedAt + spec.ttl * 1000 : null,
      explicitMaxTtl: spec.explicitMaxTtl,
      renewable: spec.ttl > 0 && spec.renewable,
      path: spec.path,
      parentHash: spec.parentHash,
    };
    await this.barrier.put(PREFIX + tokenHash(id), entry);
    if (entry.expiresAt !== null) this.onExpiry(entry.expiresAt);
    return { id, entry };
  }

  exists(id: string): boolean {
    return this.barrier.get(PREFIX + tokenHash(id)) !== undefined;
  }

  /** The entry of a live token; undefined for unknown, revoked or expired tokens and their descendants. */
  lookup(id: string): TokenEntry | undefined {
    const now = Date.now();
    const entry = this.barrier.get<TokenEntry>(PREFIX + tokenHash(id));
    if (!entry || expired(entry, now)) return undefined;
    // The reaper revokes the tree of an expired token shortly after; until then the walk up refuses it.
    const seen = new Set<string>();
    for (let parent = entry.parentHash; parent !== null; ) {
      const ancestor = seen.has(parent) ? undefined : this.barrier.get<TokenEntry>(PREFIX + parent);
      if (!ancestor || expired(ancestor, now)) return undefined;
      seen.add(parent);
      parent = ancestor.parentHash;
    }
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

  /** Sets a live token to expire `ttl` seconds from now (the TTL is decided by the caller). */
  async renew(id: string, ttl: number): Promise<TokenEntry> {
    const entry = this.lookup(id);
    if (!entry) throw new Error('token not found');
    const renewed: TokenEntry = { ...entry, expiresAt: Date.now() + ttl * 1000 };
    await this.barrier.put(PREFIX + tokenHash(id), renewed);
    this.onExpiry(renewed.expiresAt!);
    return renewed;
  }

  /** Revokes the token and, with it, the tokens it created and theirs (orphans excepted). */
  async revoke(id: string): Promise<void> {
    await this.revokeTrees([tokenHash(id)]);
  }

  /**
   * Revokes every expired token with its tree. Returns when the next token expires (Unix ms), or
   * null when none will.
   */
  async revokeExpired(): Promise<number | null> {
    const now = Date.now();
    const entries = this.allEntries();
    const expiredHashes = [...entries].filter(([, entry]) => expired(entry, now)).map(([hash]) => hash);
    const revoked = new Set(await this.revokeTrees(expiredHashes, entries));
    let next: number | null = null;
    for (const [hash, entry] of entries) {
      if (revoked.has(hash) || entry.expiresAt === null) continue;
      if (next === null || entry.expiresAt < next) next = entry.expiresAt;
    }
    return next;
  }

  /** Seconds left before expiry, 0 for tokens that never expire. */
  static remainingTtl(entry: TokenEntry): number {
    return entry.expiresAt === null ? 0 : Math.max(0, Math.round((entry.expiresAt - Date.now()) / 1000));
  }

  /**
   * Deletes the tokens `roots` and their descendants, each token after its children, so a crash
   * half-way never leaves a child whose parent is gone. Returns the hashes deleted.
   */
  private async revokeTrees(roots: readonly string[], entries = this.allEntries()): Promise<string[]> {
    const children = new Map<string, string[]>();
    for (const [hash, entry] of entries) {
      if (entry.parentHash === null) continue;
      const siblings = children.get(entry.parentHash) ?? [];
      siblings.push(hash);
      children.set(entry.parentHash, siblings);
    }
    // Iterative, not recursive: a chain of thousands of tokens must not exhaust the stack.
    const parentsFirst: string[] = [];
    const seen = new Set<string>();
    const stack = [...roots];
    while (stack.length > 0) {
      const hash = stack.pop()!;
      if (seen.has(hash)) continue;
      seen.add(hash);
      parentsFirst.push(hash);
      for (const child of children.get(hash) ?? []) stack.push(child);
    }
    const childrenFirst = parentsFirst.reverse();
    for (const hash of childrenFirst) await this.barrier.delete(PREFIX + hash);
    return childrenFirst;
  }

  private allEntries(): Map<string, TokenEntry> {
    const entries = new Map<string, TokenEntry>();
    for (const key of this.barrier.keysUnder(PREFIX)) {
      const entry = this.barrier.get<TokenEntry>(key);
      if (entry) entries.set(key.slice(PREFIX.length), entry);
    }
    return entries;
  }
}

function expired(entry: TokenEntry, now: number): boolean {
  return entry.expiresAt !== null && now >= entry.expiresAt;
}
