// SqliteConfigStore, the embedded ConfigStore engine, on real files: one revision per write, the compare-and-set
// conditions, delete semantics, the change feed (resumable, paged), watch (replay then follow), and reopening.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteConfigStore } from '../../src/store/sqlite.js';
import type { StoreChange } from '../../src/store/config-store.js';
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

  it('an entry carries the revision that created it, the revision of its last write, and when that was', async () => {
    const { store } = freshStore();
    const before = Date.now();
    assert.deepEqual(await store.put('k', 'one'), { revision: 1, created: true });
    await store.put('other', 0);
    assert.deepEqual(await store.put('k', 'two'), { revision: 3, created: false });
    const entry = await store.get('k');
    assert.equal(entry?.key, 'k');
    assert.equal(entry?.value, 'two');
    assert.equal(entry?.createRevision, 1);
    assert.equal(entry?.modRevision, 3);
    const at = Date.parse(entry!.updatedAt);
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000, entry!.updatedAt);
    assert.match(entry!.updatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('a failed write takes no revision and leaves no change behind', async () => {
    const { store } = freshStore();
    await store.put('k', 1);
    await rejectsWith(store.put('k', 2, { kind: 'absent' }), 'already-exists');
    await rejectsWith(store.put('k', 2, { kind: 'mod-revision', revision: 99 }), 'precondition-failed');
    await rejectsWith(store.delete('missing'), 'not-found');
    assert.equal(await store.revision(), 1);
    assert.equal((await store.changesSince(0)).length, 1);
    assert.deepEqual((await store.put('k', 3)).revision, 2);
  });

  it('values come back as the JSON they were: nesting, unicode, NUL characters, numbers, null', async () => {
    const { store } = freshStore();
    const value = { s: 'ünï\u0000cødé 🚢 \u202e', n: [0, -1.5, 1e300], nested: { a: { b: [null, true, false, {}] } }, empty: '' };
    await store.put('v', value);
    await store.put('null', null);
    assert.deepEqual((await store.get('v'))?.value, value);
    assert.equal((await store.get('null'))?.value, null);
    assert.equal(await store.get('nothing'), undefined);
  });
});

describe('compare-and-set conditions', () => {
  it('absent: creates only when the key does not exist', async () => {
    const { store } = freshStore();
    assert.deepEqual(await store.put('k', 1, { kind: 'absent' }), { revision: 1, created: true });
    await rejectsWith(store.put('k', 2, { kind: 'absent' }), 'already-exists', /k already exists/);
    assert.equal((await store.get('k'))?.value, 1);
  });

  it('present: writes only over an existing key', async () => {
    const { store } = freshStore();
    await rejectsWith(store.put('k', 1, { kind: 'present' }), 'not-found', /k does not exist/);
    assert.equal(await store.get('k'), undefined);
    await store.put('k', 1);
    assert.deepEqual(await store.put('k', 2, { kind: 'present' }), { revision: 2, created: false });
    await store.delete('k', { kind: 'present' });
    assert.equal(await store.get('k'), undefined);
  });

  it('mod-revision: writes only over exactly that revision, and fails when the key is absent', async () => {
    const { store } = freshStore();
    await rejectsWith(store.put('k', 1, { kind: 'mod-revision', revision: 1 }), 'precondition-failed', /does not exist/);
    const { revision } = await store.put('k', 1);
    await store.put('unrelated', 1);
    await rejectsWith(store.put('k', 2, { kind: 'mod-revision', revision: revision + 1 }), 'precondition-failed', /its revision is 1, not 2/);
    assert.equal((await store.put('k', 2, { kind: 'mod-revision', revision })).revision, 3);
    await rejectsWith(store.put('k', 3, { kind: 'mod-revision', revision }), 'precondition-failed');
    await rejectsWith(store.delete('k', { kind: 'mod-revision', revision }), 'precondition-failed');
    await store.delete('k', { kind: 'mod-revision', revision: 3 });
    assert.equal(await store.get('k'), undefined);
  });

  it('of two writers with the same expected revision, exactly one wins, also through two handles on one file', async () => {
    const { store, dir } = freshStore();
    const other = open(dir);
    const { revision } = await store.put('k', 'start');
    const outcomes = await Promise.allSettled([
      store.put('k', 'first', { kind: 'mod-revision', revision }),
      other.put('k', 'second', { kind: 'mod-revision', revision }),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected']);
    const winner = outcomes[0]!.status === 'fulfilled' ? 'first' : 'second';
    assert.equal((await other.get('k'))?.value, winner);
    assert.equal((await store.get('k'))?.value, winner);
    assert.equal(await other.revision(), 2);
  });
});

describe('delete', () => {
  it('removes the key from get and list, records a change without a value, and a second delete is not-found', async () => {
    const { store } = freshStore();
    await store.put('p/a', 1);
    await store.put('p/b', 2);
    assert.deepEqual(await store.delete('p/a'), { revision: 3, created: false });
    assert.equal(await store.get('p/a'), undefined);
    assert.deepEqual((await store.list('p/')).map((e) => e.key), ['p/b']);
    const [change] = await store.changesSince(2);
    assert.equal(change?.type, 'delete');
    assert.equal(change?.key, 'p/a');
    assert.ok(!('value' in change!));
    await rejectsWith(store.delete('p/a'), 'not-found', /p\/a does not exist/);
    assert.equal(await store.revision(), 3);
  });

  it('a key created again after a delete starts a new life: a new create revision', async () => {
    const { store } = freshStore();
    await store.put('k', 1);
    await store.delete('k');
    assert.deepEqual(await store.put('k', 2, { kind: 'absent' }), { revision: 3, created: true });
    const entry = await store.get('k');
    assert.equal(entry?.createRevision, 3);
    assert.equal(entry?.modRevision, 3);
  });
});

describe('list', () => {
  it('every key under a prefix, in key order, and nothing beside it', async () => {
    const { store } = freshStore();
    for (const key of ['reg/b', 'reg/a', 'reg/a/deeper', 'reg', 'regx/a', 'reh/a', 'reg/\u{FFFD}', 'reg/ü', 'other']) await store.put(key, key);
    assert.deepEqual((await store.list('reg/')).map((e) => e.key), ['reg/a', 'reg/a/deeper', 'reg/b', 'reg/ü', 'reg/\u{FFFD}']);
    assert.deepEqual((await store.list('')).length, 9);
    assert.deepEqual(await store.list('nothing/'), []);
    const [first] = await store.list('reg/a');
    assert.equal(first?.value, 'reg/a');
  });
});

describe('the change feed', () => {
  /** Writes `count` changes (puts and some deletes) and returns them as the feed must report them. */
  async function writeHistory(store: SqliteConfigStore, count: number): Promise<Pick<StoreChange, 'revision' | 'key' | 'type' | 'value'>[]> {
    const expected: Pick<StoreChange, 'revision' | 'key' | 'type' | 'value'>[] = [];
    for (let i = 1; i <= count; i++) {
      if (i % 5 === 0) {
        await store.delete(`k${i - 1}`);
        expected.push({ revision: i, key: `k${i - 1}`, type: 'delete' });
      } else {
        await store.put(`k${i}`, { i });
        expected.push({ revision: i, key: `k${i}`, type: 'put', value: { i } });
      }
    }
    return expected;
  }
  const strip = (changes: StoreChange[]) => changes.map(({ at: _at, ...rest }) => rest);

  it('changesSince(r) is every change after r, oldest first, from any r', async () => {
    const { store } = freshStore();
    const expected = await writeHistory(store, 23);
    for (let from = 0; from <= 25; from++) assert.deepEqual(strip(await store.changesSince(from)), expected.slice(from), `from ${from}`);
    for (const change of await store.changesSince(0)) assert.ok(!Number.isNaN(Date.parse(change.at)));
  });

  it('pages of any size, each resumed from the last revision seen, add up to the whole feed', async () => {
    const { store } = freshStore();
    const expected = await writeHistory(store, 23);
    for (const size of [1, 2, 3, 7, 22, 23, 24]) {
      const seen: StoreChange[] = [];
      for (let page = await store.changesSince(0, size); page.length > 0; page = await store.changesSince(seen.at(-1)!.revision, size)) {
        assert.ok(page.length <= size);
        seen.push(...page);
      }
      assert.deepEqual(strip(seen), expected, `page size ${size}`);
    }
  });

  it('by default a page holds at most 1000 changes', async () => {
    const { store } = freshStore();
    await writeHistory(store, 1003);
    const page = await store.changesSince(0);
    assert.equal(page.length, 1000);
    assert.equal(page.at(-1)!.revision, 1000);
    assert.deepEqual((await store.changesSince(1000)).map((c) => c.revision), [1001, 1002, 1003]);
  });

  it('watch replays the changes after a revision, then follows new ones in order, until unsubscribed', async () => {
    const { store } = freshStore();
    const expected = await writeHistory(store, 1203);
    const seen: StoreChange[] = [];
    const fromStart: StoreChange[] = [];
    const unsubscribe = await store.watch(1100, (c) => seen.push(c));
    const unsubscribeAll = await store.watch(0, (c) => fromStart.push(c));
    // The replay crosses the 1000-change page of the feed.
    assert.deepEqual(strip(fromStart), expected);
    assert.deepEqual(strip(seen), expected.slice(1100));
    await store.put('live', 1);
    await store.delete('live');
    assert.deepEqual(seen.slice(-2).map((c) => [c.revision, c.key, c.type]), [[1204, 'live', 'put'], [1205, 'live', 'delete']]);
    unsubscribe();
    await store.put('after', 1);
    assert.equal(seen.at(-1)!.revision, 1205);
    assert.equal(fromStart.at(-1)!.revision, 1206);
    unsubscribeAll();
  });

  it('watch from the current revision replays nothing; failed writes are never reported', async () => {
    const { store } = freshStore();
    await store.put('k', 1);
    const seen: StoreChange[] = [];
    await store.watch(await store.revision(), (c) => seen.push(c));
    assert.equal(seen.length, 0);
    await rejectsWith(store.put('k', 2, { kind: 'absent' }), 'already-exists');
    await store.put('k', 3);
    assert.deepEqual(seen.map((c) => [c.revision, c.value]), [[2, 3]]);
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
