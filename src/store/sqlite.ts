// The embedded ConfigStore engine: one SQLite file (node:sqlite, see sqlite-file.ts) in the data directory.
// WAL with synchronous=FULL fsyncs the log on every commit, so an acknowledged write survives kill -9 and power loss.
import { join } from 'node:path';
import { makeDirectoryDurably } from './durable-files.js';
import { notFound } from '../errors.js';
import { checkWriteCondition } from './write-condition.js';
import { SqliteFile, type RowValues } from './sqlite-file.js';
import { SqliteRowCache } from './sqlite-row-cache.js';
import type { AuditRecord, AuditTrim, ConfigStore, ReadOptions, StoreChange, StoreEntry, StoredJson, StoredValue, WriteCondition, WriteContext, WriteResult } from './config-store.js';

// Reads take rows as values (see SqliteFile.getValues), in the order of these column lists.
const ENTRY = 'key, value, create_rev, mod_rev, updated_at, context';
const ENTRY_VALUE = 1;
const ENTRY_MOD_REV = 3;
const CHANGE = 'rev, key, type, value, at, context';
const AUDIT = 'rev, key, type, at, previous_rev, context';

const GET = `SELECT ${ENTRY} FROM entries WHERE key = ?`;
const LIST = `SELECT ${ENTRY} FROM entries WHERE key >= ? AND key < ? ORDER BY key`;
const UPSERT = `INSERT INTO entries (key, value, create_rev, mod_rev, updated_at, context) VALUES (@key, @value, @rev, @rev, @at, @context)
  ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, updated_at = excluded.updated_at, context = excluded.context`;
const REMOVE = 'DELETE FROM entries WHERE key = ?';
const APPEND_CHANGE = 'INSERT INTO changes (rev, key, type, value, at, context) VALUES (@rev, @key, @type, @value, @at, @context)';
const REVISION = 'SELECT max(rev) FROM changes';
/** Changes when another connection commits to the file (see sqlite-row-cache.ts). */
const DATA_VERSION = 'PRAGMA data_version';
const CHANGES_SINCE = `SELECT ${CHANGE} FROM changes WHERE rev > ? ORDER BY rev LIMIT ?`;
const APPEND_AUDIT = 'INSERT INTO audit (rev, key, type, at, previous_rev, context) VALUES (@rev, @key, @type, @at, @previous, @context)';
const AUDIT_BEFORE = `SELECT ${AUDIT} FROM audit WHERE rev < ? ORDER BY rev DESC LIMIT ?`;
const TRIM_AUDIT_TO_NEWEST = 'DELETE FROM audit WHERE rev <= (SELECT rev FROM audit ORDER BY rev DESC LIMIT 1 OFFSET ?)';
const TRIM_AUDIT_BEFORE = 'DELETE FROM audit WHERE at < ?';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, updated_at TEXT NOT NULL,
    context TEXT
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS changes (
    rev INTEGER PRIMARY KEY, key TEXT NOT NULL, type TEXT NOT NULL, value TEXT, at TEXT NOT NULL, context TEXT
  );
  -- The audit trail: one row per write made with a context, in that write's transaction (its id is the revision).
  CREATE TABLE IF NOT EXISTS audit (
    rev INTEGER PRIMARY KEY, key TEXT NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, previous_rev INTEGER, context TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
`;

/** Files written before writes carried their context get the column (NULL for their old rows). */
function addContextColumns(db: SqliteFile): void {
  for (const table of ['entries', 'changes']) {
    const columns = db.all<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`);
    if (!columns.some((c) => c.name === 'context')) db.exec(`ALTER TABLE ${table} ADD COLUMN context TEXT`);
  }
}

const contextOf = (json: RowValues[number]) => (json === null ? {} : { writeContext: JSON.parse(json as string) as WriteContext });

/** Upper bound of every key starting with a prefix: U+10FFFF is the greatest code point, and SQLite compares bytes. */
const prefixEnd = (prefix: string) => `${prefix}\u{10FFFF}`;

const toEntry = ([key, value, createRevision, modRevision, updatedAt, context]: RowValues): StoreEntry => ({
  key: key as string,
  value: JSON.parse(value as string) as StoredValue,
  createRevision: createRevision as number,
  modRevision: modRevision as number,
  updatedAt: updatedAt as string,
  ...contextOf(context),
});

const toChange = ([revision, key, type, value, at, context]: RowValues): StoreChange => ({
  revision: revision as number,
  key: key as string,
  type: type as StoreChange['type'],
  ...(value === null ? {} : { value: JSON.parse(value as string) as StoredValue }),
  at: at as string,
  ...contextOf(context),
});

const toAuditRecord = ([revision, key, type, at, previousRevision, context]: RowValues): AuditRecord => ({
  id: revision as number,
  revision: revision as number,
  key: key as string,
  type: type as AuditRecord['type'],
  at: at as string,
  ...(previousRevision === null ? {} : { previousRevision: previousRevision as number }),
  context: JSON.parse(context as string) as WriteContext,
});

export class SqliteConfigStore implements ConfigStore {
  private readonly db: SqliteFile;
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private readonly rows = new SqliteRowCache();
  /** Reads waiting for the turn's check (ReadOptions.shareCheck). */
  private waitingForCheck: (() => void)[] = [];

  constructor(dataDir: string) {
    makeDirectoryDurably(dataDir);
    this.db = new SqliteFile(join(dataDir, 'config.db'));
    // One transaction: a new file gets its tables with one fsync rather than one per statement.
    this.db.transaction(() => {
      this.db.exec(SCHEMA);
      addContextColumns(this.db);
    });
  }

  private currentRevision(): number {
    return (this.db.getValues(REVISION)?.[0] as number | null | undefined) ?? 0;
  }

  /** Runs one write as a single transaction and tells the watchers once it is committed. */
  private commit(key: string, type: 'put' | 'delete', value: StoredValue | undefined, condition?: WriteCondition, context?: WriteContext): WriteResult {
    // The transaction takes the write lock before reading, so two processes on one file cannot both pass the same condition.
    const { result, change } = this.db.transaction((): { result: WriteResult; change: StoreChange } => {
      const current = this.db.getValues(GET, key);
      const currentModRevision = current?.[ENTRY_MOD_REV] as number | undefined;
      checkWriteCondition(key, currentModRevision, condition);
      if (type === 'delete' && !current) throw notFound(`${key} does not exist`);
      const rev = this.currentRevision() + 1;
      const at = new Date().toISOString();
      const json = value === undefined ? null : JSON.stringify(value);
      const contextJson = context === undefined ? null : JSON.stringify(context);
      if (type === 'put') this.db.run(UPSERT, { key, value: json, rev, at, context: contextJson });
      else this.db.run(REMOVE, key);
      this.db.run(APPEND_CHANGE, { rev, key, type, value: json, at, context: contextJson });
      if (contextJson !== null) this.db.run(APPEND_AUDIT, { rev, key, type, at, previous: currentModRevision ?? null, context: contextJson });
      const change: StoreChange = { revision: rev, key, type, at, ...(value === undefined ? {} : { value }), ...(context ? { writeContext: context } : {}) };
      return { result: { revision: rev, created: !current }, change };
    });
    this.rows.forget(key);
    for (const listener of this.listeners) listener(change);
    return result;
  }

  async get(key: string, options?: ReadOptions): Promise<StoreEntry | undefined> {
    const row = await this.row(key, options);
    return row && toEntry(row);
  }

  async getJson(key: string, options?: ReadOptions): Promise<StoredJson | undefined> {
    // The value column holds JSON.stringify of the value written (commit).
    const row = await this.row(key, options);
    return row && { json: row[ENTRY_VALUE] as string, modRevision: row[ENTRY_MOD_REV] as number };
  }

  /** The entry's row, from the rows read before when no other connection has committed since. */
  private async row(key: string, options: ReadOptions | undefined): Promise<RowValues | undefined> {
    if (options?.shareCheck) await this.sharedConfirmation();
    else this.confirmRows();
    let row = this.rows.get(key);
    if (!row) {
      row = this.db.getValues(GET, key);
      if (row) this.rows.set(key, row);
    }
    return row;
  }

  /** Makes the cached rows hold no other connection's commits: PRAGMA data_version says whether there were any. */
  private confirmRows(): void {
    this.rows.validate(this.db.getValues(DATA_VERSION)![0] as number);
  }

  /**
   * One confirmRows for every read asked for during this turn of the event loop, made in its check phase: after all
   * of them were asked for, so each one still sees every commit made before it was. Under load a turn takes in the
   * requests of many connections, and the check (two lock system calls) is paid once for them all.
   */
  private sharedConfirmation(): Promise<void> {
    return new Promise((resolve) => {
      if (this.waitingForCheck.push(resolve) > 1) return;
      setImmediate(() => {
        const waiting = this.waitingForCheck;
        this.waitingForCheck = [];
        try {
          this.confirmRows();
        } catch {
          // Rows that could not be confirmed are not served: each read asks SQLite itself, and fails as an unshared
          // read would (a closed file, a broken disk).
          this.rows.clear();
        }
        for (const read of waiting) read();
      });
    });
  }

  async list(prefix: string): Promise<StoreEntry[]> {
    return this.db.allValues(LIST, prefix, prefixEnd(prefix)).map(toEntry);
  }

  async put(key: string, value: StoredValue, condition?: WriteCondition, context?: WriteContext): Promise<WriteResult> {
    return this.commit(key, 'put', value, condition, context);
  }

  async delete(key: string, condition?: WriteCondition, context?: WriteContext): Promise<WriteResult> {
    return this.commit(key, 'delete', undefined, condition, context);
  }

  async revision(): Promise<number> {
    return this.currentRevision();
  }

  async changesSince(afterRevision: number, limit = 1000): Promise<StoreChange[]> {
    return this.db.allValues(CHANGES_SINCE, afterRevision, limit).map(toChange);
  }

  async watch(afterRevision: number, listener: (change: StoreChange) => void): Promise<() => void> {
    // node:sqlite is synchronous: no write can commit between the replay and the subscription below.
    let from = afterRevision;
    const next = () => this.db.allValues(CHANGES_SINCE, from, 1000);
    for (let batch = next(); batch.length > 0; batch = next()) {
      for (const row of batch) listener(toChange(row));
      from = batch[batch.length - 1]![0] as number;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async auditRecords(options: { before?: number; limit: number }): Promise<AuditRecord[]> {
    return this.db.allValues(AUDIT_BEFORE, options.before ?? Number.MAX_SAFE_INTEGER, options.limit).map(toAuditRecord);
  }

  async trimAuditRecords(trim: AuditTrim): Promise<number> {
    return this.db.transaction(() => {
      let changes = 0;
      if (trim.keep !== undefined) changes += this.db.run(TRIM_AUDIT_TO_NEWEST, trim.keep);
      if (trim.olderThan !== undefined) changes += this.db.run(TRIM_AUDIT_BEFORE, trim.olderThan.toISOString());
      return changes;
    });
  }

  async healthy(): Promise<boolean> {
    try {
      this.db.get('SELECT 1');
      return this.db.isOpen;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.db.close();
  }
}
