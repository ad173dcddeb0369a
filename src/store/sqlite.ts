// The embedded ConfigStore engine: one SQLite file (better-sqlite3) in the data directory.
// WAL with synchronous=FULL fsyncs the log on every commit, so an acknowledged write survives kill -9 and power loss.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { makeDirectoryDurably } from './durable-files.js';
import { notFound } from '../errors.js';
import { checkWriteCondition } from './write-condition.js';
import type { AuditRecord, AuditTrim, ConfigStore, StoreChange, StoreEntry, StoredValue, WriteCondition, WriteContext, WriteResult } from './config-store.js';

interface EntryRow { key: string; value: string; create_rev: number; mod_rev: number; updated_at: string; context: string | null }
interface ChangeRow { rev: number; key: string; type: 'put' | 'delete'; value: string | null; at: string; context: string | null }
interface AuditRow { rev: number; key: string; type: 'put' | 'delete'; at: string; previous_rev: number | null; context: string }

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
function addContextColumns(db: Database.Database): void {
  for (const table of ['entries', 'changes']) {
    const columns = db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}')`).all();
    if (!columns.some((c) => c.name === 'context')) db.exec(`ALTER TABLE ${table} ADD COLUMN context TEXT`);
  }
}

const contextOf = (json: string | null) => (json === null ? {} : { writeContext: JSON.parse(json) as WriteContext });

/** Upper bound of every key starting with a prefix: U+10FFFF is the greatest code point, and SQLite compares bytes. */
const prefixEnd = (prefix: string) => `${prefix}\u{10FFFF}`;

const toEntry = (row: EntryRow): StoreEntry => ({
  key: row.key,
  value: JSON.parse(row.value) as StoredValue,
  createRevision: row.create_rev,
  modRevision: row.mod_rev,
  updatedAt: row.updated_at,
  ...contextOf(row.context),
});

const toAuditRecord = (row: AuditRow): AuditRecord => ({
  id: row.rev,
  revision: row.rev,
  key: row.key,
  type: row.type,
  at: row.at,
  ...(row.previous_rev === null ? {} : { previousRevision: row.previous_rev }),
  context: JSON.parse(row.context) as WriteContext,
});

const toChange = (row: ChangeRow): StoreChange => ({
  revision: row.rev,
  key: row.key,
  type: row.type,
  ...(row.value === null ? {} : { value: JSON.parse(row.value) as StoredValue }),
  at: row.at,
  ...contextOf(row.context),
});

export class SqliteConfigStore implements ConfigStore {
  private readonly db: Database.Database;
  private readonly listeners = new Set<(change: StoreChange) => void>();
  private readonly statements;

  constructor(dataDir: string) {
    makeDirectoryDurably(dataDir);
    this.db = new Database(join(dataDir, 'config.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    addContextColumns(this.db);
    this.statements = {
      get: this.db.prepare<[string], EntryRow>('SELECT * FROM entries WHERE key = ?'),
      list: this.db.prepare<[string, string], EntryRow>('SELECT * FROM entries WHERE key >= ? AND key < ? ORDER BY key'),
      upsert: this.db.prepare(
        `INSERT INTO entries (key, value, create_rev, mod_rev, updated_at, context) VALUES (@key, @value, @rev, @rev, @at, @context)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, updated_at = excluded.updated_at, context = excluded.context`,
      ),
      remove: this.db.prepare<[string]>('DELETE FROM entries WHERE key = ?'),
      appendChange: this.db.prepare('INSERT INTO changes (rev, key, type, value, at, context) VALUES (@rev, @key, @type, @value, @at, @context)'),
      revision: this.db.prepare<[], { rev: number | null }>('SELECT max(rev) AS rev FROM changes'),
      changesSince: this.db.prepare<[number, number], ChangeRow>('SELECT * FROM changes WHERE rev > ? ORDER BY rev LIMIT ?'),
      appendAudit: this.db.prepare('INSERT INTO audit (rev, key, type, at, previous_rev, context) VALUES (@rev, @key, @type, @at, @previous, @context)'),
      auditBefore: this.db.prepare<[number, number], AuditRow>('SELECT * FROM audit WHERE rev < ? ORDER BY rev DESC LIMIT ?'),
      trimAuditToNewest: this.db.prepare<[number]>('DELETE FROM audit WHERE rev <= (SELECT rev FROM audit ORDER BY rev DESC LIMIT 1 OFFSET ?)'),
      trimAuditBefore: this.db.prepare<[string]>('DELETE FROM audit WHERE at < ?'),
    };
  }

  private currentRevision(): number {
    return this.statements.revision.get()?.rev ?? 0;
  }

  /** Runs one write as a single transaction and tells the watchers once it is committed. */
  private commit(key: string, type: 'put' | 'delete', value: StoredValue | undefined, condition?: WriteCondition, context?: WriteContext): WriteResult {
    const write = this.db.transaction((): { result: WriteResult; change: StoreChange } => {
      const current = this.statements.get.get(key);
      checkWriteCondition(key, current?.mod_rev, condition);
      if (type === 'delete' && !current) throw notFound(`${key} does not exist`);
      const rev = this.currentRevision() + 1;
      const at = new Date().toISOString();
      const json = value === undefined ? null : JSON.stringify(value);
      const contextJson = context === undefined ? null : JSON.stringify(context);
      if (type === 'put') this.statements.upsert.run({ key, value: json, rev, at, context: contextJson });
      else this.statements.remove.run(key);
      this.statements.appendChange.run({ rev, key, type, value: json, at, context: contextJson });
      if (contextJson !== null) this.statements.appendAudit.run({ rev, key, type, at, previous: current?.mod_rev ?? null, context: contextJson });
      const change: StoreChange = { revision: rev, key, type, at, ...(value === undefined ? {} : { value }), ...(context ? { writeContext: context } : {}) };
      return { result: { revision: rev, created: !current }, change };
    });
    // IMMEDIATE takes the write lock before reading, so two processes on one file cannot both pass the same condition.
    const { result, change } = write.immediate();
    for (const listener of this.listeners) listener(change);
    return result;
  }

  async get(key: string): Promise<StoreEntry | undefined> {
    const row = this.statements.get.get(key);
    return row && toEntry(row);
  }

  async list(prefix: string): Promise<StoreEntry[]> {
    return this.statements.list.all(prefix, prefixEnd(prefix)).map(toEntry);
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
    return this.statements.changesSince.all(afterRevision, limit).map(toChange);
  }

  async watch(afterRevision: number, listener: (change: StoreChange) => void): Promise<() => void> {
    // better-sqlite3 is synchronous: no write can commit between the replay and the subscription below.
    let from = afterRevision;
    for (let batch = this.statements.changesSince.all(from, 1000); batch.length > 0; batch = this.statements.changesSince.all(from, 1000)) {
      for (const row of batch) listener(toChange(row));
      from = batch[batch.length - 1]!.rev;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async auditRecords(options: { before?: number; limit: number }): Promise<AuditRecord[]> {
    return this.statements.auditBefore.all(options.before ?? Number.MAX_SAFE_INTEGER, options.limit).map(toAuditRecord);
  }

  async trimAuditRecords(trim: AuditTrim): Promise<number> {
    const dropped = this.db.transaction(() => {
      let changes = 0;
      if (trim.keep !== undefined) changes += this.statements.trimAuditToNewest.run(trim.keep).changes;
      if (trim.olderThan !== undefined) changes += this.statements.trimAuditBefore.run(trim.olderThan.toISOString()).changes;
      return changes;
    });
    return dropped.immediate();
  }

  async healthy(): Promise<boolean> {
    try {
      this.db.prepare('SELECT 1').get();
      return this.db.open;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }
}
