// The ConfigStore interface: a revisioned key/value store with compare-and-set and a resumable change feed.
// Engines (sqlite.ts today, etcd later) implement it; routes and domain modules only ever see this interface.

/** A JSON value as stored; the store never interprets it. */
export type StoredValue = unknown;

/** Who made a write: a Berth API token, a single sign-on user, or Berth itself (replication, start-up). */
export interface ChangeAuthor {
  kind: 'token' | 'sso' | 'system';
  /** The token's name, the user's `preferred_username` (else their `sub`), or which part of Berth wrote. */
  name: string;
  /** Single sign-on: the user's `sub` at the issuer, the identity that does not change when a name does. */
  subject?: string;
  issuer?: string;
}

/**
 * What a write carries besides its value: who asked for it and the request that did (its X-Request-Id, which names
 * the request's log lines). Stored in the same transaction as the write, so the state of an object says who changed
 * it last, and every change in the feed says who made it (what an audit trail follows).
 */
export interface WriteContext {
  author: ChangeAuthor;
  requestId?: string;
}

export interface StoreEntry {
  key: string;
  value: StoredValue;
  /** Store revision of the write that created the key. */
  createRevision: number;
  /** Store revision of the last write to the key; an object's ETag. */
  modRevision: number;
  /** When the last write happened (ISO 8601). */
  updatedAt: string;
  /** Who made the last write; absent for writes made without one (before Berth recorded it). */
  writeContext?: WriteContext;
}

/** What a write requires of the key's current state; violated conditions throw `preconditionFailed`/`alreadyExists`. */
export type WriteCondition =
  | { kind: 'absent' }
  | { kind: 'present' }
  | { kind: 'mod-revision'; revision: number };

export interface StoreChange {
  revision: number;
  key: string;
  type: 'put' | 'delete';
  /** The new value for a put; absent for a delete. */
  value?: StoredValue;
  at: string;
  /** Who made the change, when the write said. */
  writeContext?: WriteContext;
}

export interface WriteResult {
  revision: number;
  /** For a put: whether the key did not exist before. */
  created: boolean;
}

export interface ConfigStore {
  get(key: string): Promise<StoreEntry | undefined>;
  /** Every entry whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<StoreEntry[]>;
  put(key: string, value: StoredValue, condition?: WriteCondition, context?: WriteContext): Promise<WriteResult>;
  /** Throws `notFound` when the key is absent. */
  delete(key: string, condition?: WriteCondition, context?: WriteContext): Promise<WriteResult>;
  /** The store's current revision: the revision of its last write (0 when empty). */
  revision(): Promise<number>;
  /** The changes after `afterRevision`, oldest first, at most `limit` of them. Resumable from any revision. */
  changesSince(afterRevision: number, limit?: number): Promise<StoreChange[]>;
  /** Calls `listener` for every change committed after `afterRevision`, in order; returns an unsubscribe function. */
  watch(afterRevision: number, listener: (change: StoreChange) => void): Promise<() => void>;
  /** True when the store can serve reads and writes. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}
