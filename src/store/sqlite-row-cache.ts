// The rows of `entries` the SQLite store read last, for its point reads (`get`): reading a row through node:sqlite
// costs a read transaction, the B-tree walk and the copy of the row, about 18 µs of a GET's time in a running Berth;
// asking SQLite whether anything changed costs about a third of that. The rows are kept as read (JSON text, not parsed
// values), so no caller ever shares an object with another.
// Valid while SQLite's `data_version` (which changes when another connection commits to the file: another process, or
// another handle in this one) stays what it was; this connection's own writes forget the rows they change. Reads that
// may share that check (ReadOptions.shareCheck) wait for the end of the event loop's turn and make it once for all.
import type { RowValues } from './sqlite-file.js';

/** What the cached rows may hold in all, counted in characters of their text columns: a few hundred typical entries. */
export const ROW_CACHE_CHARACTERS = 2 * 1024 * 1024;

export class SqliteRowCache {
  /** By key, least recently used first (a Map iterates in insertion order; a hit moves its row to the end). */
  private readonly rows = new Map<string, { row: RowValues; size: number }>();
  private characters = 0;
  private dataVersion: number | undefined;

  constructor(private readonly capacity = ROW_CACHE_CHARACTERS) {}

  /** Forgets every row when `dataVersion` is not the one the rows were read at: another connection has committed. */
  validate(dataVersion: number): void {
    if (dataVersion === this.dataVersion) return;
    this.clear();
    this.dataVersion = dataVersion;
  }

  get(key: string): RowValues | undefined {
    const cached = this.rows.get(key);
    if (!cached) return undefined;
    this.rows.delete(key);
    this.rows.set(key, cached);
    return cached.row;
  }

  set(key: string, row: RowValues): void {
    const size = row.reduce<number>((sum, column) => sum + (typeof column === 'string' ? column.length : 8), 0);
    if (size > this.capacity) return;
    this.forget(key);
    this.rows.set(key, { row, size });
    this.characters += size;
    for (const [oldest, { size: oldestSize }] of this.rows) {
      if (this.characters <= this.capacity) break;
      this.rows.delete(oldest);
      this.characters -= oldestSize;
    }
  }

  forget(key: string): void {
    const cached = this.rows.get(key);
    if (!cached) return;
    this.rows.delete(key);
    this.characters -= cached.size;
  }

  clear(): void {
    this.rows.clear();
    this.characters = 0;
  }

  /** Rows and characters held (for tests). */
  get held(): { rows: number; characters: number } {
    return { rows: this.rows.size, characters: this.characters };
  }
}
