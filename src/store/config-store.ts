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
 * the request's log lines, and its HTTP method). Stored in the same transaction as the write, so the state of an
 * object says who changed it last, and every change in the feed says who made it. A write made with a context is
 * audited: the engine appends an AuditRecord in that same transaction, so the write and its record exist together
 * or not at all, whatever crashes when.
 */
export interface WriteContext {
  author: ChangeAuthor;
  requestId?: string;
  /** The HTTP method of the request that asked for the write; absent for Berth's own writes. */
  method?: string;
}

/** One audited write: what the trail at /v1/state/system/audit shows, as the store keeps it. */
export interface AuditRecord {
  /** The record's place in the trail: unique, and higher for a later write. */
  id: number;
  /** The store revision of the write: the key's new mod revision, or the revision of its delete. */
  revision: number;
  key: string;
  type: 'put' | 'delete';
  /** When the write was made (ISO 8601). */
  at: string;
  /** The key's mod revision before the write; absent when the key did not exist. */
  previousRevision?: number;
  context: WriteContext;
}

/** Which audit records to drop: all but the newest `keep`, and every one made before `olderThan`. */
export interface AuditTrim {
  keep?: number;
  olderThan?: Date;
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

export interface ReadOptions {
  /**
   * The read may wait for the end of the current turn of the event loop, to share with the reads waiting then the
   * engine's check that nothing changed underneath it. What it answers still holds every write committed before the
   * read was asked for. For the reads of many requests at once (plain-reads.ts).
   */
  shareCheck?: boolean;
}

/** An entry's value as the JSON text it is stored as, and its revision (ConfigStore.getJson). */
export interface StoredJson {
  json: string;
  modRevision: number;
}

export interface ConfigStore {
  get(key: string, options?: ReadOptions): Promise<StoreEntry | undefined>;
  /**
   * The entry's value as JSON text, exactly `JSON.stringify` of the value `get` answers, and its revision: for an
   * answer that sends the value as it is, without parsing it to write it again.
   */
  getJson(key: string, options?: ReadOptions): Promise<StoredJson | undefined>;
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
  /** Audit records, newest first: those with an id below `before` (all when absent), at most `limit` of them. */
  auditRecords(options: { before?: number; limit: number }): Promise<AuditRecord[]>;
  /** Drops old audit records (retention); answers how many went. */
  trimAuditRecords(trim: AuditTrim): Promise<number>;
  /** True when the store can serve reads and writes. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}
