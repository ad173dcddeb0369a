// The embedded ConfigStore engine: one SQLite file (better-sqlite3) in the data directory.
// WAL with synchronous=FULL fsyncs the log on every commit, so an acknowledged write survives kill -9 and power loss.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { makeDirectoryDurably } from './durable-files.js';
import { notFound } from '../errors.js';
import { checkWriteCondition } from './write-condition.js';
import type { ConfigStore, StoreChange, StoreEntry, StoredValue, WriteCondition, WriteResult } from './config-store.js';

interface EntryRow { key: string; value: string; create_rev: number; mod_rev: number; updated_at: string }
interface ChangeRow { rev: number; key: string; type: 'put' | 'delete'; value: string | null; at: string }

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

const toEntry = (row: EntryRow): StoreEntry => ({
  key: row.key,
  value: JSON.parse(row.value) as StoredValue,
  createRevision: row.create_rev,
  modRevision: row.mod_rev,
  updatedAt: row.updated_at,
});

const toChange = (row: ChangeRow): StoreChange => ({
  revision: row.rev,
  key: row.key,
  type: row.type,
  ...(row.value === null ? {} : { value: JSON.parse(row.value) as StoredValue }),
  at: row.at,
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
    this.statements = {
      get: this.db.prepare<[string], EntryRow>('SELECT * FROM entries WHERE key = ?'),
      list: this.db.prepare<[string, string], EntryRow>('SELECT * FROM entries WHERE key >= ? AND key < ? ORDER BY key'),
      upsert: this.db.prepare(
        `INSERT INTO entries (key, value, create_rev, mod_rev, updated_at) VALUES (@key, @value, @rev, @rev, @at)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev, updated_at = excluded.updated_at`,
      ),
      remove: this.db.prepare<[string]>('DELETE FROM entries WHERE key = ?'),
      appendChange: this.db.prepare('INSERT INTO changes (rev, key, type, value, at) VALUES (@rev, @key, @type, @value, @at)'),
      revision: this.db.prepare<[], { rev: number | null }>('SELECT max(rev) AS rev FROM changes'),
      changesSince: this.db.prepare<[number, number], ChangeRow>('SELECT * FROM changes WHERE rev > ? ORDER BY rev LIMIT ?'),
    };
  }

  private currentRevision(): number {
    return this.statements.revision.get()?.rev ?? 0;
  }

  /** Runs one write as a single transaction and tells the watchers once it is committed. */
  private commit(key: string, type: 'put' | 'delete', value: StoredValue | undefined, condition?: WriteCondition): WriteResult {
    const write = this.db.transaction((): { result: WriteResult; change: StoreChange } => {
      const current = this.statements.get.get(key);
      checkWriteCondition(key, current?.mod_rev, condition);
      if (type === 'delete' && !current) throw notFound(`${key} does not exist`);
      const rev = this.currentRevision() + 1;
      const at = new Date().toISOString();
      const json = value === undefined ? null : JSON.stringify(value);
      if (type === 'put') this.statements.upsert.run({ key, value: json, rev, at });
      else this.statements.remove.run(key);
      this.statements.appendChange.run({ rev, key, type, value: json, at });
      const change: StoreChange = { revision: rev, key, type, at, ...(value === undefined ? {} : { value }) };
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
