// The ConfigStore interface: a revisioned key/value store with compare-and-set and a resumable change feed.
// Engines (sqlite.ts today, etcd later) implement it; routes and domain modules only ever see this interface.

/** A JSON value as stored; the store never interprets it. */
export type StoredValue = unknown;

export interface StoreEntry {
  key: string;
  value: StoredValue;
  /** Store revision of the write that created the key. */
  createRevision: number;
  /** Store revision of the last write to the key; an object's ETag. */
  modRevision: number;
  /** When the last write happened (ISO 8601). */
  updatedAt: string;
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
  put(key: string, value: StoredValue, condition?: WriteCondition): Promise<WriteResult>;
  /** Throws `notFound` when the key is absent. */
  delete(key: string, condition?: WriteCondition): Promise<WriteResult>;
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
