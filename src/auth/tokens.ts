// API tokens: created with a name and a role (role `site` also names its site), answered once, kept only as SHA-256
// hashes in the config store. A cache of hash -> Principal follows the store's change feed, so a revoked token stops
// working at once. A stored entry that is not a valid token (a role outside the enum, a site token without its site)
// authenticates nobody and is not listed: it is never mapped to some other role's rules.
import { createHash, randomBytes } from 'node:crypto';
import type { ConfigStore, StoreChange, WriteContext, WriteResult } from '../store/config-store.js';
import { alreadyExists, invalidInput, notFound } from '../errors.js';
import { isRole, type Authenticator, type Principal, type Role } from '../principal.js';

const PREFIX = 'system/tokens/';

export interface TokenInfo {
  name: string;
  role: Role;
  /** For role `site`: the site the token is bound to. */
  site?: string;
  created: string;
}

export interface TokenRequest {
  name: string;
  role: Role;
  site?: string;
}

interface StoredToken extends TokenInfo {
  /** SHA-256 of the token, hex. Tokens are 256 random bits, so a fast hash is enough to make the store useless to a thief. */
  hash: string;
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
/** `berth_` + 256 random bits; the prefix lets secret scanners recognise a leaked token. */
export const generateToken = () => `berth_${randomBytes(32).toString('base64url')}`;

/**
 * The hashes of tokens presented lately that were known: hashing is a fixed cost on every request, and clients send
 * the same token again and again. Only token -> hash is kept (a pure function), so revoking a token, which drops its
 * hash, works at once. Unknown tokens are not kept, so nobody can push the known ones out. The oldest entry goes
 * when it is full.
 */
const RECENT_HASHES = 256;
const recentHashes = new Map<string, string>();
function rememberHash(token: string, hash: string): void {
  if (recentHashes.size >= RECENT_HASHES) recentHashes.delete(recentHashes.keys().next().value!);
  recentHashes.set(token, hash);
}

const info = ({ name, role, site, created }: StoredToken): TokenInfo => ({ name, role, ...(site !== undefined ? { site } : {}), created });

/** Whether a stored value is a token this Berth can honour: a known role, its site exactly when the role is `site`. */
function isStoredToken(value: unknown): value is StoredToken {
  const token = value as Partial<StoredToken> | null;
  if (!token || typeof token !== 'object' || typeof token.name !== 'string' || typeof token.created !== 'string') return false;
  if (typeof token.hash !== 'string' || !/^[0-9a-f]{64}$/.test(token.hash) || !isRole(token.role)) return false;
  return token.role === 'site' ? typeof token.site === 'string' && token.site !== '' : token.site === undefined;
}

/** The contract's rule that `site` comes with role `site`, and only with it. */
function requestProblem(request: TokenRequest): string | undefined {
  if (request.role === 'site' && request.site === undefined) return "site: required with role 'site' (the site the token is bound to)";
  if (request.role !== 'site' && request.site !== undefined) return "site: only with role 'site'";
  return undefined;
}

export class TokenRegistry implements Authenticator {
  /** hash -> principal, for every stored token plus the admin token from the settings. */
  private readonly byHash = new Map<string, Principal>();
  /** name -> hash, to drop a token from byHash when its entry is deleted. */
  private readonly hashByName = new Map<string, string>();
  /**
   * name -> revision of the last change applied to it (deletes too). This replica applies its own writes as soon as
   * the store acknowledges them (a token works, or is refused, on the replica that wrote it at once, before its watch
   * delivers the change); the watch then brings the same change again, and a change older than what a name has
   * seen never undoes a newer one.
   */
  private readonly revisionByName = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;

  private constructor(private readonly store: ConfigStore) {}

  /**
   * Opens the registry. With `adminToken` (BERTH_ADMIN_TOKEN) that token is an admin, known by its hash only.
   * Without it, and with no stored admin token, one is generated, stored as a hash, and returned to be printed once.
   */
  static async open(store: ConfigStore, adminToken: string | undefined): Promise<{ tokens: TokenRegistry; generatedAdminToken?: string }> {
    const tokens = new TokenRegistry(store);
    // Replaying from the revision read before listing may repeat a change the list already has; applying it is idempotent.
    const from = await store.revision();
    for (const entry of await store.list(PREFIX)) tokens.apply({ revision: entry.modRevision, key: entry.key, type: 'put', value: entry.value, at: entry.updatedAt });
    tokens.unsubscribe = await store.watch(from, (change) => tokens.apply(change));
    if (adminToken) {
      tokens.byHash.set(hashToken(adminToken), { name: 'admin (BERTH_ADMIN_TOKEN)', role: 'admin' });
      return { tokens };
    }
    const hasAdmin = (await store.list(PREFIX)).some((e) => isStoredToken(e.value) && e.value.role === 'admin');
    if (hasAdmin) return { tokens };
    const created = await tokens.create({ name: 'admin', role: 'admin' }, { context: { author: { kind: 'system', name: 'start-up' } } });
    return { tokens, generatedAdminToken: created.token };
  }

  private apply(change: StoreChange): void {
    if (!change.key.startsWith(PREFIX)) return;
    const name = change.key.slice(PREFIX.length);
    if ((this.revisionByName.get(name) ?? 0) >= change.revision) return;
    this.revisionByName.set(name, change.revision);
    const previous = this.hashByName.get(name);
    if (previous) this.byHash.delete(previous);
    this.hashByName.delete(name);
    if (change.type === 'put' && isStoredToken(change.value)) {
      const token = change.value;
      this.byHash.set(token.hash, { name: token.name, role: token.role, ...(token.site !== undefined ? { site: token.site } : {}) });
      this.hashByName.set(name, token.hash);
    }
  }

  async authenticate(bearer: string): Promise<Principal | undefined> {
    const recent = recentHashes.get(bearer);
    if (recent !== undefined) return this.byHash.get(recent);
    const hash = hashToken(bearer);
    const principal = this.byHash.get(hash);
    if (principal) rememberHash(bearer, hash);
    return principal;
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.store.list(PREFIX)).map((e) => e.value).filter(isStoredToken).map(info);
  }

  async get(name: string): Promise<TokenInfo> {
    const entry = await this.store.get(PREFIX + name);
    if (!entry || !isStoredToken(entry.value)) throw notFound(`token '${name}' does not exist`);
    return info(entry.value);
  }

  /** Creates a token; the answer is the only place the token itself ever appears. */
  async create(request: TokenRequest, options: { validateOnly?: boolean; context?: WriteContext } = {}): Promise<TokenInfo & { token: string }> {
    const problem = requestProblem(request);
    if (problem) throw invalidInput(problem, { path: '/site' });
    const key = PREFIX + request.name;
    const site = request.role === 'site' ? { site: request.site! } : {};
    if (options.validateOnly) {
      if (await this.store.get(key)) throw alreadyExists(`token '${request.name}' already exists`);
      return { name: request.name, role: request.role, ...site, created: new Date().toISOString(), token: '' };
    }
    const token = generateToken();
    const stored: StoredToken = { name: request.name, role: request.role, ...site, created: new Date().toISOString(), hash: hashToken(token) };
    let written: WriteResult;
    try {
      written = await this.store.put(key, stored, { kind: 'absent' }, options.context);
    } catch (e) {
      if ((e as { kind?: string }).kind === 'already-exists') throw alreadyExists(`token '${request.name}' already exists`);
      throw e;
    }
    this.apply({ revision: written.revision, key, type: 'put', value: stored, at: stored.created });
    return { ...info(stored), token };
  }

  async revoke(name: string, options: { validateOnly?: boolean; context?: WriteContext } = {}): Promise<void> {
    if (options.validateOnly) {
      await this.get(name);
      return;
    }
    let written: WriteResult;
    try {
      written = await this.store.delete(PREFIX + name, undefined, options.context);
    } catch (e) {
      if ((e as { kind?: string }).kind === 'not-found') throw notFound(`token '${name}' does not exist`);
      throw e;
    }
    this.apply({ revision: written.revision, key: PREFIX + name, type: 'delete', at: new Date().toISOString() });
  }

  close(): void {
    this.unsubscribe?.();
  }
}
