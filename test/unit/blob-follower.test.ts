// The tee of pull-through (image-registry/mirror/blob-follower.ts) over a real blob store: a client gets a blob's
// bytes while a transfer writes it, from its first byte on, before the blob is whole on disk; never its last byte
// before the digest is verified; a failed transfer breaks the stream off; a client joining late starts from byte 0.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSiteRegistry, type BlobStore, type SiteRegistry } from '../../src/registry/index.js';
import { BlobProgress } from '../../src/image-registry/pull/blob-progress.js';
import { followBlob } from '../../src/image-registry/mirror/blob-follower.js';
import { eventually } from '../helpers/eventually.js';

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** What a stream has delivered so far, and how it ended. */
function collect(stream: Readable) {
  const seen = { chunks: [] as Buffer[], bytes: 0, ended: false, error: undefined as Error | undefined };
  stream.on('data', (chunk: Buffer) => {
    seen.chunks.push(chunk);
    seen.bytes += chunk.length;
  });
  stream.on('end', () => (seen.ended = true));
  stream.on('error', (error) => (seen.error = error));
  return seen;
}

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

describe('following a blob while it is written', () => {
  let dir: string;
  let registry: SiteRegistry;
  let progress: BlobProgress;
  let store: BlobStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-follower-'));
    registry = await createSiteRegistry({ dataDir: dir });
    progress = new BlobProgress();
    store = progress.reporting(registry.blobs);
  });
  after(async () => {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the first bytes before the blob is whole, and the rest as it arrives, the whole only when it hashes to its digest', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const digest = digestOf(bytes);
    const done = deferred();
    let closed = 0;
    const writer = await store.openWriter({ expectedDigest: digest, expectedSize: bytes.length });
    const following = followBlob(progress, registry.blobs, { digest, size: bytes.length, done: done.promise }, () => closed++);
    await writer.write(bytes.subarray(0, 100_000));
    const seen = collect(await following);
    await eventually('the first 100000 bytes reach the client', async () => seen.bytes === 100_000);
    assert.equal(await registry.blobs.has(digest), false, 'not in the store yet');

    await writer.write(bytes.subarray(100_000));
    // The client hashed what it was sent: it need not wait for the store to fsync and publish the blob.
    await eventually('the stream ends', async () => seen.ended);
    assert.equal(digestOf(Buffer.concat(seen.chunks)), digest);
    assert.equal(await registry.blobs.has(digest), false, 'not in the store before the transfer commits it');
    await writer.commit();
    done.resolve();
    assert.equal(await registry.blobs.has(digest), true);
    assert.equal(closed, 1);
  });

  it('sends bytes short of a read chunk when the upstream stalls: nothing that is in waits for more', async () => {
    const bytes = randomBytes(2 * 1024 * 1024);
    const digest = digestOf(bytes);
    const done = deferred();
    const writer = await store.openWriter({ expectedDigest: digest, expectedSize: bytes.length });
    const following = followBlob(progress, registry.blobs, { digest, size: bytes.length, done: done.promise }, () => {});
    await writer.write(bytes.subarray(0, 1000));
    const seen = collect(await following);
    // Then 10 KiB more, far less than a read chunk (256 KiB), and nothing after it for as long as the client waits.
    await writer.write(bytes.subarray(1000, 11_240));
    await eventually('the 10 KiB after the first bytes reach the client while the writer stalls', async () => seen.bytes === 11_240);
    await writer.write(bytes.subarray(11_240));
    await eventually('the stream ends', async () => seen.ended);
    assert.equal(digestOf(Buffer.concat(seen.chunks)), digest);
    await writer.commit();
    done.resolve();
  });

  it('holds the last byte of a range that ends with the blob until the transfer verified and stored it', async () => {
    const bytes = randomBytes(600_000);
    const digest = digestOf(bytes);
    const done = deferred();
    const writer = await store.openWriter({ expectedDigest: digest, expectedSize: bytes.length });
    const following = followBlob(progress, registry.blobs, { digest, size: bytes.length, range: { start: 1000, end: bytes.length - 1 }, done: done.promise }, () => {});
    await writer.write(bytes);
    const seen = collect(await following);
    await eventually('all but the last byte reach the client', async () => seen.bytes === bytes.length - 1000 - 1);
    assert.equal(seen.ended, false, 'the last byte waits for the digest');
    await writer.commit();
    done.resolve();
    await eventually('the stream ends', async () => seen.ended);
    assert.ok(Buffer.concat(seen.chunks).equals(bytes.subarray(1000)));
  });

  it('breaks off when the content does not match its digest: the client never gets a whole blob', async () => {
    const bytes = randomBytes(500_000);
    const digest = digestOf(bytes);
    const done = deferred();
    const writer = await store.openWriter({ expectedDigest: digest, expectedSize: bytes.length });
    const following = followBlob(progress, registry.blobs, { digest, size: bytes.length, done: done.promise }, () => {});
    const tampered = Buffer.from(bytes);
    tampered[250_000] = tampered[250_000]! ^ 0xff;
    await writer.write(tampered);
    const seen = collect(await following);
    await eventually('the stream fails', async () => seen.error !== undefined);
    assert.equal(seen.ended, false);
    assert.ok(seen.bytes < bytes.length, 'the client never got the whole of it');
    await assert.rejects(writer.commit(), /does not match/);
    done.reject(new Error('the content received hashes to another digest'));
    assert.equal(await registry.blobs.has(digest), false);
  });

  it('gives a client that joins late the bytes from the start, and a range from its start', async () => {
    const bytes = randomBytes(700_000);
    const digest = digestOf(bytes);
    const done = deferred();
    const writer = await store.openWriter({ expectedDigest: digest, expectedSize: bytes.length });
    await writer.write(bytes.subarray(0, 400_000));
    const whole = collect(await followBlob(progress, registry.blobs, { digest, size: bytes.length, done: done.promise }, () => {}));
    const range = collect(await followBlob(progress, registry.blobs, { digest, size: bytes.length, range: { start: 300_000, end: 350_000 }, done: done.promise }, () => {}));
    await eventually('the range is sent', async () => range.ended);
    assert.ok(Buffer.concat(range.chunks).equals(bytes.subarray(300_000, 350_001)));
    await writer.write(bytes.subarray(400_000));
    await writer.commit();
    done.resolve();
    await eventually('the stream ends', async () => whole.ended);
    assert.ok(Buffer.concat(whole.chunks).equals(bytes));
  });

  it('fails before the first byte when the transfer does: an error to answer, not a broken 200', async () => {
    const digest = digestOf(randomBytes(10));
    const done = deferred();
    let closed = 0;
    const following = followBlob(progress, registry.blobs, { digest, size: 10, done: done.promise }, () => closed++);
    done.reject(new Error('the remote registry is down'));
    await assert.rejects(following, /down/);
    assert.equal(closed, 1);
  });

  it('stops following when the client goes away', async () => {
    const bytes = randomBytes(200_000);
    const digest = digestOf(bytes);
    const done = deferred();
    let closed = 0;
    const writer = await store.openWriter({ expectedDigest: digest, expectedSize: bytes.length });
    await writer.write(bytes.subarray(0, 1000));
    const stream = await followBlob(progress, registry.blobs, { digest, size: bytes.length, done: done.promise }, () => closed++);
    stream.destroy();
    await eventually('the follower let go', async () => closed === 1);
    await writer.abort();
  });
});
