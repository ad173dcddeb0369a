// What is particular to SqliteConfigStore, on real files: revisions numbered one per write, reopening, and point reads
// served from rows read before. The behaviour every engine shares is checked for both in test/integration/config-store-engines.test.ts.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SqliteConfigStore } from '../../src/store/sqlite.js';
import { SqliteRowCache } from '../../src/store/sqlite-row-cache.js';
import { BerthError, type ErrorKind } from '../../src/errors.js';

const dirs: string[] = [];
const stores: SqliteConfigStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A store on a fresh data directory (closed and removed after the tests). */
function freshStore(): { store: SqliteConfigStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  dirs.push(dir);
  return { store: open(dir), dir };
}

function open(dir: string): SqliteConfigStore {
  const store = new SqliteConfigStore(dir);
  stores.push(store);
  return store;
}

async function rejectsWith(promise: Promise<unknown>, kind: ErrorKind, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof BerthError, `expected a BerthError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

describe('revisions', () => {
  it('an empty store is at revision 0; every write, to any key, adds exactly one', async () => {
    const { store } = freshStore();
    assert.equal(await store.revision(), 0);
    const writes = [
      () => store.put('a', 1),
      () => store.put('b', { x: 1 }),
      () => store.put('a', 2),
      () => store.delete('b'),
      () => store.put('c/d', [1, 2]),
    ];
    for (const [index, write] of writes.entries()) {
      const { revision } = await write();
      assert.equal(revision, index + 1);
      assert.equal(await store.revision(), index + 1);
    }
  });

});

describe('reopening', () => {
  it('keeps every entry, revision and change, and numbering goes on from there', async () => {
    const { store, dir } = freshStore();
    await store.put('a', { v: 1 });
    await store.put('b', { v: 2 });
    await store.put('a', { v: 3 });
    await store.delete('b');
    const entries = await store.list('');
    const changes = await store.changesSince(0);
    await store.close();
    assert.equal(await store.healthy(), false);

    const reopened = open(dir);
    assert.equal(await reopened.healthy(), true);
    assert.equal(await reopened.revision(), 4);
    assert.deepEqual(await reopened.list(''), entries);
    assert.deepEqual(await reopened.changesSince(0), changes);
    assert.equal((await reopened.put('c', 1)).revision, 5);
    await rejectsWith(reopened.put('a', 0, { kind: 'mod-revision', revision: 1 }), 'precondition-failed');
    assert.equal((await reopened.put('a', 0, { kind: 'mod-revision', revision: 3 })).revision, 6);
  });

  it('creates its data directory, nested, when it does not exist', async () => {
    const { dir } = freshStore();
    const nested = join(dir, 'deeper', 'still');
    const store = open(nested);
    await store.put('k', 1);
    assert.equal((await store.get('k'))?.value, 1);
  });
});

describe('files from before writes carried their context', () => {
  it('open with their entries and history intact, and take contexts from then on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
    dirs.push(dir);
    const old = new DatabaseSync(join(dir, 'config.db'));
    old.exec(`CREATE TABLE entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE changes (rev INTEGER PRIMARY KEY, key TEXT NOT NULL, type TEXT NOT NULL, value TEXT, at TEXT NOT NULL);
      INSERT INTO entries VALUES ('k', '1', 1, 1, '2026-01-01T00:00:00.000Z');
      INSERT INTO changes VALUES (1, 'k', 'put', '1', '2026-01-01T00:00:00.000Z');`);
    old.close();
    const store = open(dir);
    const entry = await store.get('k');
    assert.equal(entry?.value, 1);
    assert.equal(entry?.writeContext, undefined);
    const context = { author: { kind: 'token' as const, name: 'ci' }, requestId: 'r' };
    const { revision } = await store.put('k', 2, undefined, context);
    assert.equal(revision, 2);
    assert.deepEqual((await store.get('k'))?.writeContext, context);
    assert.deepEqual((await store.changesSince(0)).map((c) => c.writeContext), [undefined, context]);
  });
});

describe('point reads served from the rows read before (sqlite-row-cache.ts)', () => {
  it('a second process writing to the file is seen at once by a handle that had read the entry', async () => {
    const { store, dir } = freshStore();
    await store.put('k', { v: 1 });
    assert.deepEqual((await store.get('k'))?.value, { v: 1 });
    // A second process: a plain SQLite connection to the same file, as the sqlite3 shell or another Berth would have.
    const other = new DatabaseSync(join(dir, 'config.db'));
    try {
      other.prepare("UPDATE entries SET value = '{\"v\":2}', mod_rev = 99 WHERE key = 'k'").run();
      const entry = await store.get('k');
      assert.deepEqual(entry?.value, { v: 2 });
      assert.equal(entry?.modRevision, 99);
      other.prepare("DELETE FROM entries WHERE key = 'k'").run();
      assert.equal(await store.get('k'), undefined);
    } finally {
      other.close();
    }
  });

  it("this handle's own writes and deletes are read back at once, and answers never share objects", async () => {
    const { store } = freshStore();
    await store.put('k', { list: [1] });
    const first = await store.get('k');
    (first!.value as { list: number[] }).list.push(2);
    assert.deepEqual((await store.get('k'))?.value, { list: [1] }, 'a caller changing its answer changed the next one');
    const { revision } = await store.put('k', { list: [3] });
    assert.deepEqual(await store.get('k').then((e) => [e?.value, e?.modRevision]), [{ list: [3] }, revision]);
    await store.delete('k');
    assert.equal(await store.get('k'), undefined);
  });
});

describe('reads that share the check of their turn (ReadOptions.shareCheck)', () => {
  it("see another connection's commit made before they were asked for, even within the turn of an earlier read", async () => {
    const { store, dir } = freshStore();
    await store.put('k', { v: 1 });
    assert.deepEqual((await store.get('k', { shareCheck: true }))?.value, { v: 1 }, 'read and kept');
    const other = new DatabaseSync(join(dir, 'config.db'));
    try {
      const before = store.get('k', { shareCheck: true });
      other.prepare("UPDATE entries SET value = '{\"v\":2}' WHERE key = 'k'").run();
      const after = store.get('k', { shareCheck: true });
      assert.deepEqual((await after)?.value, { v: 2 }, 'a read asked for after the commit');
      // Asked for before the commit, answered after it: either state is a right answer.
      assert.ok([1, 2].includes(((await before)?.value as { v: number }).v));
    } finally {
      other.close();
    }
  });

  it('many reads asked for in one turn are all answered, each with its own entry, and a later turn reads afresh', async () => {
    const { store } = freshStore();
    for (let i = 0; i < 20; i++) await store.put(`k${i}`, { i });
    const reads = await Promise.all(Array.from({ length: 20 }, (_, i) => store.get(`k${i}`, { shareCheck: true })));
    assert.deepEqual(reads.map((e) => e?.value), Array.from({ length: 20 }, (_, i) => ({ i })));
    await store.put('k3', { i: 33 });
    assert.deepEqual((await store.get('k3', { shareCheck: true }))?.value, { i: 33 });
    assert.equal(await store.get('absent', { shareCheck: true }), undefined);
  });
});

describe('a shared check that fails', () => {
  it('fails the reads waiting for it, serves nothing it could not confirm, and the process lives on', async () => {
    const { store } = freshStore();
    await store.put('k', { v: 1 });
    assert.deepEqual((await store.get('k', { shareCheck: true }))?.value, { v: 1 });
    const read = store.get('k', { shareCheck: true });
    await store.close();
    await assert.rejects(read, /finalized|not open|closed/i);
  });
});

describe('SqliteRowCache', () => {
  it('holds rows up to its capacity in characters, dropping the least recently read first', () => {
    const cache = new SqliteRowCache(25);
    cache.validate(1);
    cache.set('a', ['a', 'x'.repeat(9)]);
    cache.set('b', ['b', 'x'.repeat(9)]);
    assert.ok(cache.get('a'), 'a read moves a row to the end');
    cache.set('c', ['c', 'x'.repeat(9)]);
    assert.deepEqual([cache.get('a') !== undefined, cache.get('b') !== undefined, cache.get('c') !== undefined], [true, false, true]);
    assert.deepEqual(cache.held, { rows: 2, characters: 20 });
    cache.set('big', ['x'.repeat(26)]);
    assert.equal(cache.get('big'), undefined, 'a row larger than the whole cache is not kept');
    cache.forget('a');
    assert.deepEqual(cache.held, { rows: 1, characters: 10 });
  });

  it('forgets every row when the data version changes, and none while it stays', () => {
    const cache = new SqliteRowCache();
    cache.validate(7);
    cache.set('k', ['k', 'v', 1]);
    cache.validate(7);
    assert.deepEqual(cache.get('k'), ['k', 'v', 1]);
    cache.validate(8);
    assert.equal(cache.get('k'), undefined);
    assert.deepEqual(cache.held, { rows: 0, characters: 0 });
  });
});
