// The embedded ConfigStore engine: one SQLite file (node:sqlite, see sqlite-file.ts) in the data directory.
// WAL with synchronous=FULL fsyncs the log on every commit, so an acknowledged write survives kill -9 and power loss.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { notFound } from '../errors.js';
import { checkWriteCondition } from './write-condition.js';
import { SqliteFile, type RowValues } from './sqlite-file.js';
import type { ConfigStore, StoreChange, StoreEntry, StoredValue, WriteCondition, WriteResult } from './config-store.js';

// Reads take rows as values (see SqliteFile.getValues), in the order of these column lists.
const ENTRY = 'key, value, create_rev, mod_rev, updated_at';
const ENTRY_MOD_REV = 3;
const CHANGE = 'rev, key, type, value, at';

const GET = `SELECT ${ENTRY} FROM entries WHERE key = ?`;
const LIST = `SELECT ${ENTRY} FROM entries WHERE key >= ? AND key < ? ORDER BY key`;
const UPSERT = `INSERT INTO entries (key, value, create_rev, mod_rev, updated_at) VALUES (@key, @value, @rev, @rev, @at)
  ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, updated_at = excluded.updated_at`;
const REMOVE = 'DELETE FROM entries WHERE key = ?';
const APPEND_CHANGE = 'INSERT INTO changes (rev, key, type, value, at) VALUES (@rev, @key, @type, @value, @at)';
const REVISION = 'SELECT max(rev) FROM changes';
const CHANGES_SINCE = `SELECT ${CHANGE} FROM changes WHERE rev > ? ORDER BY rev LIMIT ?`;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY, value TEXT NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, updated_at TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS changes (
    rev INTEGER PRIMARY KEY, key TEXT NOT NULL, type TEXT NOT NULL, value TEXT, at TEXT NOT NULL
  );
`;

/** Upper bound of every key starting with a prefix: U+10FFFF is the greatest code point, and SQLite compares bytes. */
const prefixEnd = (prefix: string) => `${prefix}\u{10FFFF}`;

const toEntry = ([key, value, createRevision, modRevision, updatedAt]: RowValues): StoreEntry => ({
  key: key as string,
  value: JSON.parse(value as string) as StoredValue,
  createRevision: createRevision as number,
  modRevision: modRevision as number,
  updatedAt: updatedAt as string,
});

const toChange = ([revision, key, type, value, at]: RowValues): StoreChange => ({
  revision: revision as number,
  key: key as string,
  type: type as StoreChange['type'],
  ...(value === null ? {} : { value: JSON.parse(value as string) as StoredValue }),
  at: at as string,
});

export class SqliteConfigStore implements ConfigStore {
  private readonly db: SqliteFile;
  private readonly listeners = new Set<(change: StoreChange) => void>();

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new SqliteFile(join(dataDir, 'config.db'));
    // One transaction: a new file gets its tables with one fsync rather than one per statement.
    this.db.transaction(() => this.db.exec(SCHEMA));
  }

  private currentRevision(): number {
    return (this.db.getValues(REVISION)?.[0] as number | null | undefined) ?? 0;
  }

  /** Runs one write as a single transaction and tells the watchers once it is committed. */
  private commit(key: string, type: 'put' | 'delete', value: StoredValue | undefined, condition?: WriteCondition): WriteResult {
    // The transaction takes the write lock before reading, so two processes on one file cannot both pass the same condition.
    const { result, change } = this.db.transaction((): { result: WriteResult; change: StoreChange } => {
      const current = this.db.getValues(GET, key);
      checkWriteCondition(key, current?.[ENTRY_MOD_REV] as number | undefined, condition);
      if (type === 'delete' && !current) throw notFound(`${key} does not exist`);
      const rev = this.currentRevision() + 1;
      const at = new Date().toISOString();
      const json = value === undefined ? null : JSON.stringify(value);
      if (type === 'put') this.db.run(UPSERT, { key, value: json, rev, at });
      else this.db.run(REMOVE, key);
      this.db.run(APPEND_CHANGE, { rev, key, type, value: json, at });
      const change: StoreChange = { revision: rev, key, type, at, ...(value === undefined ? {} : { value }) };
      return { result: { revision: rev, created: !current }, change };
    });
    for (const listener of this.listeners) listener(change);
    return result;
  }

  async get(key: string): Promise<StoreEntry | undefined> {
    const row = this.db.getValues(GET, key);
    return row && toEntry(row);
  }

  async list(prefix: string): Promise<StoreEntry[]> {
    return this.db.allValues(LIST, prefix, prefixEnd(prefix)).map(toEntry);
  }

  async put(key: string, value: StoredValue, condition?: WriteCondition): Promise<WriteResult> {
    return this.commit(key, 'put', value, condition);
  }

  async delete(key: string, condition?: WriteCondition): Promise<WriteResult> {
    return this.commit(key, 'delete', undefined, condition);
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
