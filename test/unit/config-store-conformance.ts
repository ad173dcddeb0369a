// The behaviour every ConfigStore engine owes its callers, as one suite run against each engine (SQLite and etcd,
// see test/integration/config-store-engines.test.ts): revisions, conditions, delete, list, the change feed and watch.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigStore, StoreChange, WriteContext, WriteResult } from '../../src/store/config-store.js';
import { BerthError, type ErrorKind } from '../../src/errors.js';

/** One fresh, empty store, and a way to open another handle on the same store (as a second process would). */
export interface StoreUnderTest {
  store: ConfigStore;
  another(): ConfigStore;
}

/** How long a watcher may take to see a change before the test gives up; a guard against hanging, not a timing check. */
const SEEN_WITHIN_MS = 30_000;

export async function rejectsWith(promise: Promise<unknown>, kind: ErrorKind, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof BerthError, `expected a BerthError, got ${String(e)}`);
    assert.equal(e.kind, kind);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

/** Follows `store` from `after`, collecting what the watch delivers. */
export async function follow(store: ConfigStore, after: number) {
  const seen: StoreChange[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = await store.watch(after, (change) => {
    seen.push(change);
    wake?.();
  });
  return {
    seen,
    unsubscribe,
    /** Resolves once the watch has delivered a change of `revision` or later (engines may deliver asynchronously). */
    async reached(revision: number): Promise<void> {
      const deadline = Date.now() + SEEN_WITHIN_MS;
      while (!seen.some((c) => c.revision >= revision)) {
        const left = deadline - Date.now();
        if (left <= 0) assert.fail(`the watch did not deliver revision ${revision} (last seen: ${seen.at(-1)?.revision ?? 'none'})`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 200));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
  };
}

type Expected = Pick<StoreChange, 'revision' | 'key' | 'type' | 'value'>;
const strip = (changes: StoreChange[]) => changes.map(({ at: _at, ...rest }) => rest);

/** Writes `count` changes (puts and, every fifth, a delete of the key before) and returns them as the feed must report them. */
async function writeHistory(store: ConfigStore, count: number): Promise<Expected[]> {
  const expected: Expected[] = [];
  for (let i = 1; i <= count; i++) {
    if (i % 5 === 0) {
      const { revision } = await store.delete(`k${i - 1}`);
      expected.push({ revision, key: `k${i - 1}`, type: 'delete' });
    } else {
      const { revision } = await store.put(`k${i}`, { i });
      expected.push({ revision, key: `k${i}`, type: 'put', value: { i } });
    }
  }
  return expected;
}

/** Many puts at once, to build a long history quickly; the feed reports them in the order they committed. */
async function writeManyAtOnce(store: ConfigStore, count: number): Promise<Expected[]> {
  const results: Expected[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, (_, j) => start + j);
    results.push(
      ...(await Promise.all(batch.map(async (i) => ({ revision: (await store.put(`m${i}`, i)).revision, key: `m${i}`, type: 'put' as const, value: i })))),
    );
  }
  return results.sort((a, b) => a.revision - b.revision);
}

export function describeConfigStoreConformance(engine: string, fresh: () => StoreUnderTest): void {
  describe(`${engine}: revisions`, () => {
    it('an empty store is at revision 0; each write gets a higher revision, and the store is then at it', async () => {
      const { store } = fresh();
      assert.equal(await store.revision(), 0);
      const writes = [() => store.put('a', 1), () => store.put('b', { x: 1 }), () => store.put('a', 2), () => store.delete('b'), () => store.put('c/d', [1, 2])];
      let previous = 0;
      for (const write of writes) {
        const { revision } = await write();
        assert.ok(revision > previous, `revision ${revision} after ${previous}`);
        assert.equal(await store.revision(), revision);
        previous = revision;
      }
    });

    it('an entry carries the revision that created it, the revision of its last write, and when that was', async () => {
      const { store } = fresh();
      const before = Date.now();
      const first = await store.put('k', 'one');
      assert.equal(first.created, true);
      await store.put('other', 0);
      const second = await store.put('k', 'two');
      assert.equal(second.created, false);
      const entry = await store.get('k');
      assert.equal(entry?.key, 'k');
      assert.equal(entry?.value, 'two');
      assert.equal(entry?.createRevision, first.revision);
      assert.equal(entry?.modRevision, second.revision);
      const at = Date.parse(entry!.updatedAt);
      assert.ok(at >= before - 1000 && at <= Date.now() + 1000, entry!.updatedAt);
      assert.match(entry!.updatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    });

    it('a failed write takes no revision and leaves no change behind', async () => {
      const { store } = fresh();
      const { revision } = await store.put('k', 1);
      await rejectsWith(store.put('k', 2, { kind: 'absent' }), 'already-exists');
      await rejectsWith(store.put('k', 2, { kind: 'mod-revision', revision: revision + 99 }), 'precondition-failed');
      await rejectsWith(store.delete('missing'), 'not-found');
      assert.equal(await store.revision(), revision);
      assert.equal((await store.changesSince(0)).length, 1);
      assert.equal((await store.get('k'))?.value, 1);
    });

    it('values come back as the JSON they were: nesting, unicode, NUL characters, numbers, null', async () => {
      const { store } = fresh();
      const value = { s: 'ünï\u0000cødé 🚢 \u202e', n: [0, -1.5, 1e300], nested: { a: { b: [null, true, false, {}] } }, empty: '' };
      await store.put('v', value);
      await store.put('null', null);
      assert.deepEqual((await store.get('v'))?.value, value);
      assert.equal((await store.get('null'))?.value, null);
      assert.equal(await store.get('nothing'), undefined);
    });

    it('getJson answers the JSON text of the value get answers, with its revision, even across handles', async () => {
      const { store, another } = fresh();
      const value = { s: 'ünï\u0000cødé 🚢 \u202e \ud800 "q" \\', n: [0, -1.5, 1e300, 0.1], nested: { a: { b: [null, true, false, {}] } } };
      const { revision } = await store.put('v', value);
      for (const handle of [store, another()]) {
        const text = await handle.getJson('v');
        assert.equal(text?.json, JSON.stringify((await handle.get('v'))?.value));
        assert.deepEqual(JSON.parse(text!.json), value);
        assert.equal(text?.modRevision, revision);
        assert.equal(await handle.getJson('nothing'), undefined);
      }
      const { revision: second } = await another().put('v', { replaced: true });
      assert.deepEqual(await store.getJson('v', { shareCheck: true }), { json: '{"replaced":true}', modRevision: second });
    });

    it('a write through one handle is read through another at once, with the same revisions', async () => {
      const { store, another } = fresh();
      const other = another();
      const { revision } = await store.put('shared', { v: 1 });
      const entry = await other.get('shared');
      assert.deepEqual(entry?.value, { v: 1 });
      assert.equal(entry?.modRevision, revision);
      assert.equal(await other.revision(), revision);
      assert.deepEqual(await other.list(''), await store.list(''));
    });
  });

  describe(`${engine}: compare-and-set conditions`, () => {
    it('absent: creates only when the key does not exist', async () => {
      const { store } = fresh();
      assert.equal((await store.put('k', 1, { kind: 'absent' })).created, true);
      await rejectsWith(store.put('k', 2, { kind: 'absent' }), 'already-exists', /k already exists/);
      assert.equal((await store.get('k'))?.value, 1);
    });

    it('present: writes only over an existing key', async () => {
      const { store } = fresh();
      await rejectsWith(store.put('k', 1, { kind: 'present' }), 'not-found', /k does not exist/);
      assert.equal(await store.get('k'), undefined);
      await store.put('k', 1);
      assert.equal((await store.put('k', 2, { kind: 'present' })).created, false);
      await store.delete('k', { kind: 'present' });
      assert.equal(await store.get('k'), undefined);
    });

    it('mod-revision: writes only over exactly that revision, and fails when the key is absent', async () => {
      const { store } = fresh();
      await rejectsWith(store.put('k', 1, { kind: 'mod-revision', revision: 1 }), 'precondition-failed', /does not exist/);
      const { revision } = await store.put('k', 1);
      await store.put('unrelated', 1);
      await rejectsWith(store.put('k', 2, { kind: 'mod-revision', revision: revision + 1 }), 'precondition-failed', new RegExp(`its revision is ${revision}, not ${revision + 1}`));
      const second = await store.put('k', 2, { kind: 'mod-revision', revision });
      assert.equal((await store.get('k'))?.modRevision, second.revision);
      await rejectsWith(store.put('k', 3, { kind: 'mod-revision', revision }), 'precondition-failed');
      await rejectsWith(store.delete('k', { kind: 'mod-revision', revision }), 'precondition-failed');
      await store.delete('k', { kind: 'mod-revision', revision: second.revision });
      assert.equal(await store.get('k'), undefined);
    });

    it('absent on a delete: already-exists when the key is there, not-found when it is not; nothing is deleted', async () => {
      const { store } = fresh();
      await store.put('k', 1);
      await rejectsWith(store.delete('k', { kind: 'absent' }), 'already-exists');
      await rejectsWith(store.delete('gone', { kind: 'absent' }), 'not-found');
      assert.equal((await store.get('k'))?.value, 1);
    });

    it('of many writers with the same expected revision, through two handles, exactly one wins', async () => {
      const { store, another } = fresh();
      const other = another();
      const { revision } = await store.put('k', 'start');
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? store : other).put('k', `writer ${i}`, { kind: 'mod-revision', revision })),
      );
      const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      assert.equal(won.length, 1, `winners: ${won.join(', ')}`);
      for (const o of outcomes) if (o.status === 'rejected') assert.equal((o.reason as BerthError).kind, 'precondition-failed');
      assert.equal((await other.get('k'))?.value, `writer ${won[0]}`);
      assert.equal((await store.get('k'))?.value, `writer ${won[0]}`);
      assert.equal(await other.revision(), (outcomes[won[0]!] as PromiseFulfilledResult<WriteResult>).value.revision);
    });

    it('of many creators of one key, through two handles, exactly one creates it', async () => {
      const { store, another } = fresh();
      const other = another();
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => (i % 2 ? store : other).put('new', i, { kind: 'absent' })));
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      for (const o of outcomes) if (o.status === 'rejected') assert.equal((o.reason as BerthError).kind, 'already-exists');
    });
  });

  describe(`${engine}: delete`, () => {
    it('removes the key from get and list, records a change without a value, and a second delete is not-found', async () => {
      const { store } = fresh();
      await store.put('p/a', 1);
      const { revision: before } = await store.put('p/b', 2);
      const deleted = await store.delete('p/a');
      assert.deepEqual(deleted, { revision: deleted.revision, created: false });
      assert.ok(deleted.revision > before);
      assert.equal(await store.get('p/a'), undefined);
      assert.deepEqual((await store.list('p/')).map((e) => e.key), ['p/b']);
      const changes = await store.changesSince(before);
      assert.equal(changes.length, 1);
      assert.equal(changes[0]?.type, 'delete');
      assert.equal(changes[0]?.key, 'p/a');
      assert.equal(changes[0]?.revision, deleted.revision);
      assert.ok(!('value' in changes[0]!));
      await rejectsWith(store.delete('p/a'), 'not-found', /p\/a does not exist/);
      assert.equal(await store.revision(), deleted.revision);
    });

    it('a key created again after a delete starts a new life: a new create revision', async () => {
      const { store } = fresh();
      await store.put('k', 1);
      await store.delete('k');
      const again = await store.put('k', 2, { kind: 'absent' });
      assert.equal(again.created, true);
      const entry = await store.get('k');
      assert.equal(entry?.createRevision, again.revision);
      assert.equal(entry?.modRevision, again.revision);
    });
  });

  describe(`${engine}: list`, () => {
    it('every key under a prefix, in key order, and nothing beside it', async () => {
      const { store } = fresh();
      for (const key of ['reg/b', 'reg/a', 'reg/a/deeper', 'reg', 'regx/a', 'reh/a', 'reg/\u{FFFD}', 'reg/ü', 'other']) await store.put(key, key);
      assert.deepEqual((await store.list('reg/')).map((e) => e.key), ['reg/a', 'reg/a/deeper', 'reg/b', 'reg/ü', 'reg/\u{FFFD}']);
      assert.equal((await store.list('')).length, 9);
      assert.deepEqual(await store.list('nothing/'), []);
      const [first] = await store.list('reg/a');
      assert.equal(first?.value, 'reg/a');
      const entry = await store.get('reg/b');
      assert.deepEqual((await store.list('reg/b')).at(0), entry);
    });
  });

  describe(`${engine}: the change feed`, () => {
    it('changesSince(r) is every change after r, oldest first, from any r', async () => {
      const { store } = fresh();
      const expected = await writeHistory(store, 23);
      const last = expected.at(-1)!.revision;
      for (const [index, from] of [0, ...expected.map((c) => c.revision)].entries()) {
        assert.deepEqual(strip(await store.changesSince(from)), expected.slice(index), `from ${from}`);
      }
      assert.deepEqual(await store.changesSince(last + 5), []);
    });

    it('a put change carries the value and the write time its entry has', async () => {
      const { store } = fresh();
      const { revision } = await store.put('k', { v: 1 });
      const [change] = await store.changesSince(revision - 1);
      const entry = await store.get('k');
      assert.deepEqual(change, { revision, key: 'k', type: 'put', value: { v: 1 }, at: entry!.updatedAt });
      const deleted = await store.delete('k');
      const [deletion] = await store.changesSince(revision);
      assert.equal(deletion?.revision, deleted.revision);
      assert.ok(Date.parse(deletion!.at) >= Date.parse(change!.at), `${deletion!.at} before ${change!.at}`);
    });

    it('pages of any size, each resumed from the last revision seen, add up to the whole feed', async () => {
      const { store } = fresh();
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
      const { store } = fresh();
      const expected = await writeManyAtOnce(store, 1003);
      const page = await store.changesSince(0);
      assert.equal(page.length, 1000);
      assert.deepEqual(strip(page), expected.slice(0, 1000));
      assert.deepEqual(strip(await store.changesSince(page.at(-1)!.revision)), expected.slice(1000));
    });

    it('watch replays the changes after a revision, then follows new ones in order, until unsubscribed', async () => {
      const { store } = fresh();
      const expected = await writeManyAtOnce(store, 1203);
      const from = expected[1099]!.revision;
      const some = await follow(store, from);
      const all = await follow(store, 0);
      const live = await store.put('live', 1);
      const gone = await store.delete('live');
      await some.reached(gone.revision);
      await all.reached(gone.revision);
      // The replay crosses the 1000-change page of the feed, and the live changes follow it.
      const tail = [
        { revision: live.revision, key: 'live', type: 'put', value: 1 },
        { revision: gone.revision, key: 'live', type: 'delete' },
      ];
      assert.deepEqual(strip(all.seen), [...expected, ...tail]);
      assert.deepEqual(strip(some.seen), [...expected.slice(1100), ...tail]);
      // A list longer than any engine's page is still whole and in key order.
      assert.deepEqual((await store.list('m')).map((e) => e.key), expected.map((c) => c.key).sort());
      some.unsubscribe();
      const after = await store.put('after', 1);
      await all.reached(after.revision);
      assert.equal(some.seen.at(-1)!.revision, gone.revision);
      assert.equal(all.seen.at(-1)!.revision, after.revision);
      all.unsubscribe();
    });

    it('watch from the current revision replays nothing; failed writes are never reported', async () => {
      const { store } = fresh();
      await store.put('k', 1);
      const watcher = await follow(store, await store.revision());
      await rejectsWith(store.put('k', 2, { kind: 'absent' }), 'already-exists');
      const { revision } = await store.put('k', 3);
      const next = await store.put('k', 4);
      await watcher.reached(next.revision);
      assert.deepEqual(watcher.seen.map((c) => [c.revision, c.value]), [[revision, 3], [next.revision, 4]]);
      watcher.unsubscribe();
    });
  });

  describe(`${engine}: who wrote`, () => {
    it('a write\'s context (author, request id) is kept with the entry and reported with its change, in the feed and the watch', async () => {
      const { store, another } = fresh();
      const alice: WriteContext = { author: { kind: 'sso', name: 'alice', subject: 'sub-1', issuer: 'https://idp.example' }, requestId: 'req-1' };
      const ci: WriteContext = { author: { kind: 'token', name: 'ci' }, requestId: 'req-2' };
      const watcher = await follow(store, 0);
      const first = await store.put('k', 1, undefined, alice);
      assert.deepEqual((await store.get('k'))?.writeContext, alice);
      const second = await store.put('k', 2, { kind: 'mod-revision', revision: first.revision }, ci);
      assert.deepEqual((await another().list(''))[0]?.writeContext, ci);
      const removed = await store.delete('k', undefined, alice);
      const plain = await store.put('p', 0);
      assert.equal((await store.get('p'))?.writeContext, undefined);
      const expected = [[first.revision, alice], [second.revision, ci], [removed.revision, alice], [plain.revision, undefined]];
      assert.deepEqual((await store.changesSince(0)).map((c) => [c.revision, c.writeContext]), expected);
      await watcher.reached(plain.revision);
      assert.deepEqual(watcher.seen.map((c) => [c.revision, c.writeContext]), expected);
      watcher.unsubscribe();
    });
  });

  describe(`${engine}: the audit trail`, () => {
    const alice: WriteContext = { author: { kind: 'sso', name: 'alice', subject: 'sub-1', issuer: 'https://idp.example' }, requestId: 'req-1', method: 'PUT' };
    const ci: WriteContext = { author: { kind: 'token', name: 'ci' }, requestId: 'req-2', method: 'PATCH' };
    const trail = async (store: ConfigStore) => (await store.auditRecords({ limit: 1000 })).map(({ id: _id, ...record }) => record);

    it('every write with a context, and only those, gets a record: newest first, with the revisions before and after', async () => {
      const { store, another } = fresh();
      const created = await store.put('k', 1, undefined, alice);
      const replaced = await store.put('k', 2, { kind: 'mod-revision', revision: created.revision }, ci);
      await store.put('plain', 0);
      await rejectsWith(store.put('k', 3, { kind: 'absent' }, ci), 'already-exists');
      await rejectsWith(store.put('k', 3, { kind: 'mod-revision', revision: created.revision }, ci), 'precondition-failed');
      await rejectsWith(store.delete('nothing', undefined, alice), 'not-found');
      const removed = await another().delete('k', undefined, alice);
      const records = await store.auditRecords({ limit: 1000 });
      assert.deepEqual(
        records.map(({ id: _id, at: _at, ...record }) => record),
        [
          { revision: removed.revision, key: 'k', type: 'delete', previousRevision: replaced.revision, context: alice },
          { revision: replaced.revision, key: 'k', type: 'put', previousRevision: created.revision, context: ci },
          { revision: created.revision, key: 'k', type: 'put', context: alice },
        ],
      );
      assert.ok(records[0]!.id > records[1]!.id && records[1]!.id > records[2]!.id, `ids grow with the writes: ${records.map((r) => r.id).join(', ')}`);
      assert.equal(records[2]!.at, (await store.changesSince(0))[0]!.at, 'the record has the write time of its change');
    });

    it('pages from `before` the last id seen add up to the whole trail', async () => {
      const { store } = fresh();
      for (let i = 0; i < 23; i++) await store.put(`k${i % 5}`, i, undefined, ci);
      const whole = await store.auditRecords({ limit: 1000 });
      assert.equal(whole.length, 23);
      for (const size of [1, 4, 22, 23]) {
        const seen: number[] = [];
        for (let page = await store.auditRecords({ limit: size }); page.length > 0; page = await store.auditRecords({ before: seen.at(-1)!, limit: size })) {
          assert.ok(page.length <= size);
          seen.push(...page.map((r) => r.id));
        }
        assert.deepEqual(seen, whole.map((r) => r.id), `page size ${size}`);
      }
      assert.deepEqual(await store.auditRecords({ before: whole.at(-1)!.id, limit: 10 }), []);
    });

    it('writers racing through two handles: one record per write that succeeded, with its own revisions', async () => {
      const { store, another } = fresh();
      const second = another();
      const { revision: start } = await store.put('shared', 0, undefined, ci);
      // Each writer replaces over the revision it read: some lose the race (412) and must leave no record.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => (i % 2 ? second : store).put('shared', i + 1, { kind: 'mod-revision', revision: start }, { ...ci, requestId: `w${i}` })),
      );
      const blind = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? second : store).put(`blind-${i % 3}`, i, undefined, { ...alice, requestId: `b${i}` })));
      const won = outcomes.filter((o): o is PromiseFulfilledResult<WriteResult> => o.status === 'fulfilled');
      assert.equal(won.length, 1, 'exactly one conditional writer wins');
      const records = await trail(store);
      assert.equal(records.length, 1 + 1 + blind.length);
      assert.deepEqual(
        records.filter((r) => r.key === 'shared').map((r) => [r.revision, r.previousRevision]),
        [[won[0]!.value.revision, start], [start, undefined]],
      );
      const blindRevisions = new Set(blind.map((b) => b.revision));
      assert.deepEqual(new Set(records.filter((r) => r.key.startsWith('blind-')).map((r) => r.revision)), blindRevisions);
      // Each blind write names the revision its key had before it: the history of each key is a chain.
      for (const key of ['blind-0', 'blind-1', 'blind-2']) {
        const chain = records.filter((r) => r.key === key).reverse();
        chain.forEach((r, i) => assert.equal(r.previousRevision, i === 0 ? undefined : chain[i - 1]!.revision, `${key} #${i}`));
      }
    });

    it('trimming keeps the newest records and drops those written before a time', async () => {
      const { store } = fresh();
      for (let i = 0; i < 6; i++) {
        await store.put('k', i, undefined, ci);
        // Distinct write times, a millisecond apart at least.
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      const all = await store.auditRecords({ limit: 100 });
      assert.equal(await store.trimAuditRecords({ keep: 4 }), 2);
      assert.deepEqual((await store.auditRecords({ limit: 100 })).map((r) => r.id), all.slice(0, 4).map((r) => r.id));
      assert.equal(await store.trimAuditRecords({ keep: 4 }), 0);
      // Older than the second newest: only the two newest stay.
      assert.equal(await store.trimAuditRecords({ olderThan: new Date(all[1]!.at) }), 2);
      assert.deepEqual((await store.auditRecords({ limit: 100 })).map((r) => r.id), all.slice(0, 2).map((r) => r.id));
      assert.equal(await store.trimAuditRecords({ keep: 0 }), 2);
      assert.deepEqual(await store.auditRecords({ limit: 100 }), []);
      // The configuration itself is untouched by trimming the trail.
      assert.equal((await store.get('k'))?.value, 5);
    });
  });

  describe(`${engine}: health`, () => {
    it('healthy() is true while open and false once closed', async () => {
      const { another } = fresh();
      const handle = another();
      assert.equal(await handle.healthy(), true);
      await handle.close();
      assert.equal(await handle.healthy(), false);
    });
  });
}
