// WriteBehind on real files: a flush starts once a file has enough bytes unflushed, one at a time for the whole
// store, is waited for by settle(), and a failed one is reported. The descriptors are real; their datasync is wrapped
// to count the calls, hold one open, or fail like a disk.
import { mkdtempSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WriteBehind } from '../../src/registry/storage/write-behind.js';

/** A real descriptor whose datasync is counted, and held until released when `hold` is set. */
interface WatchedFile {
  handle: Pick<FileHandle, 'datasync'>;
  flushes: number;
  hold: boolean;
  release(): void;
  close(): Promise<void>;
}

async function watched(path: string, failWith?: Error): Promise<WatchedFile> {
  const real = await open(path, 'w');
  const released: Array<() => void> = [];
  const file: WatchedFile = {
    flushes: 0,
    hold: false,
    handle: {
      datasync: async () => {
        file.flushes++;
        if (file.hold) await new Promise<void>((resolve) => released.push(resolve));
        await real.datasync();
        if (failWith) throw failWith;
      },
    },
    release: () => released.splice(0).forEach((resolve) => resolve()),
    close: () => real.close(),
  };
  return file;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('WriteBehind', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-write-behind-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('flushes a file once it has the given bytes unflushed, counting from when the last flush began', async () => {
    const file = await watched(join(dir, 'a'));
    const followed = new WriteBehind(1000).follow(file.handle);
    followed.written(600);
    assert.equal(file.flushes, 0, 'under the step: no flush');
    followed.written(500);
    assert.equal(file.flushes, 1, 'past it: one flush, started at once');
    await followed.settle();
    followed.written(999);
    assert.equal(file.flushes, 1, 'the count starts again from the last flush');
    followed.written(1);
    await followed.settle();
    assert.equal(file.flushes, 2);
    await file.close();
  });

  it('runs one flush at a time for all its files; a file that finds it taken flushes on a later write', async () => {
    const [a, b] = [await watched(join(dir, 'b1')), await watched(join(dir, 'b2'))];
    const writeBehind = new WriteBehind(1000);
    const [followedA, followedB] = [writeBehind.follow(a.handle), writeBehind.follow(b.handle)];
    a.hold = true;
    followedA.written(1000);
    followedA.written(5000);
    followedB.written(5000);
    assert.deepEqual([a.flushes, b.flushes], [1, 0], 'the second flush waits for the first to end');
    a.release();
    await followedA.settle();
    followedB.written(1);
    assert.deepEqual([a.flushes, b.flushes], [1, 1], 'b carried its bytes over and flushes now');
    await followedB.settle();
    await Promise.all([a.close(), b.close()]);
  });

  it('settle() waits for the flush under way, so the descriptor is not closed under it', async () => {
    const file = await watched(join(dir, 'c'));
    const followed = new WriteBehind(10).follow(file.handle);
    file.hold = true;
    followed.written(10);
    let settled = false;
    const settling = followed.settle().then(() => {
      settled = true;
    });
    await turn();
    await turn();
    assert.equal(settled, false, 'still flushing');
    file.release();
    await settling;
    assert.equal(settled, true);
    await file.close();
  });

  it('reports a failed flush from settle(), and starts no other for that file', async () => {
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const file = await watched(join(dir, 'd'), eio);
    const followed = new WriteBehind(10).follow(file.handle);
    followed.written(10);
    await assert.rejects(followed.settle(), (e) => e === eio);
    followed.written(100);
    assert.equal(file.flushes, 1);
    await assert.rejects(followed.settle(), (e) => e === eio, 'still reported');
    await file.close();
  });
});
