// The site registry's BlobStore on a real temporary directory: verified commits, typed mismatches that leave
// nothing visible, resuming after a broken source, concurrent ingests of one digest, range reads.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlobUnknownError, DigestMismatchError, RegistryError, SizeMismatchError, SizeOutOfBoundsError, createSiteRegistry, type SiteRegistry } from '../../src/registry/index.js';

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const sha512 = (b: Uint8Array) => `sha512:${createHash('sha512').update(b).digest('hex')}`;

const patterned = (length: number, byteAt: (i: number) => number): Buffer => {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = byteAt(i);
  return b;
};

async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** A source that yields `bytes` up to `breakAt` and then fails, like an upstream connection dropping. */
async function* brokenAfter(bytes: Buffer, breakAt: number): AsyncGenerator<Buffer> {
  yield* chunksOf(bytes.subarray(0, breakAt), 1000);
  throw new Error('upstream connection reset');
}

describe('registry BlobStore (filesystem)', () => {
  let dataDir: string;
  let registry: SiteRegistry;
  const uploadsDir = () => join(dataDir, 'uploads');

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-blobstore-'));
    registry = await createSiteRegistry({ dataDir });
  });
  after(async () => {
    await registry.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('ingests a blob at blobs/sha256/<2 hex>/<hex> and reads it back whole and by range', async () => {
    const bytes = Buffer.from('hello, site registry');
    const digest = sha256(bytes);
    const info = await registry.blobs.ingest(digest, bytes.length, chunksOf(bytes, 4));
    assert.equal(info.digest, digest);
    assert.equal(info.size, bytes.length);
    const hex = digest.slice('sha256:'.length);
    assert.deepEqual(readdirSync(join(dataDir, 'blobs', 'sha256', hex.slice(0, 2))), [hex]);
    assert.equal(await registry.blobs.has(digest), true);
    assert.equal(await text(await registry.blobs.createReadStream(digest)), 'hello, site registry');
    assert.equal(await text(await registry.blobs.createReadStream(digest, { start: 7, end: 10 })), 'site');
    assert.deepEqual(readdirSync(uploadsDir()), []);
  });

  it('rejects a digest mismatch with DigestMismatchError and leaves nothing visible', async () => {
    const bytes = Buffer.from('the real content');
    const claimed = sha256(Buffer.from('something else'));
    await assert.rejects(registry.blobs.ingest(claimed, undefined, chunksOf(bytes, 5)), (e: unknown) => {
      assert.ok(e instanceof DigestMismatchError);
      assert.equal(e.code, 'DIGEST_INVALID');
      assert.equal(e.expected, claimed);
      assert.equal(e.actual, sha256(bytes));
      return true;
    });
    assert.equal(await registry.blobs.has(claimed), false);
    assert.equal(await registry.blobs.has(sha256(bytes)), false);
    assert.deepEqual(readdirSync(uploadsDir()), []);
  });

  it('rejects a size mismatch with SizeMismatchError and leaves nothing visible', async () => {
    const bytes = Buffer.from('twelve bytes');
    await assert.rejects(registry.blobs.ingest(sha256(bytes), bytes.length + 1, chunksOf(bytes, 5)), SizeMismatchError);
    // More bytes than promised: the store stops at the promised size (/v2 answers it SIZE_INVALID).
    await assert.rejects(registry.blobs.ingest(sha256(bytes), bytes.length - 1, chunksOf(bytes, 5)), SizeOutOfBoundsError);
    assert.equal(await registry.blobs.has(sha256(bytes)), false);
    assert.deepEqual(readdirSync(uploadsDir()), []);
  });

  it('resumes a writer at its offset after the source broke, and commits the whole blob', async () => {
    const bytes = patterned(50_000, (i) => (i * 31) % 251);
    const digest = sha256(bytes);
    const writer = await registry.blobs.openWriter({ expectedDigest: digest, expectedSize: bytes.length });
    await assert.rejects(writer.writeFrom(brokenAfter(bytes, 23_000)), /upstream connection reset/);
    assert.equal(writer.offset, 23_000);
    assert.equal(await registry.blobs.has(digest), false);
    // What a puller does next: ask the remote for `Range: bytes=23000-` and carry on.
    await writer.writeFrom(chunksOf(bytes.subarray(writer.offset), 4096));
    const info = await writer.commit();
    assert.equal(info.size, bytes.length);
    assert.equal(createHash('sha256').update(await registry.blobs.read(digest, 1e6)).digest('hex'), digest.slice(7));
  });

  it('reads a stream by its events: a large one in batches (paused meanwhile), a broken one resumable, each write reported', async () => {
    const bytes = patterned(3 * 1024 * 1024 + 123, (i) => (i * 13 + 5) % 256);
    const digest = sha256(bytes);
    const writer = await registry.blobs.openWriter({ expectedDigest: digest, expectedSize: bytes.length });
    // More than a write batch (1 MiB) arrives at once: the reader pauses the stream while the disk catches up. The
    // connection breaks once the first write is done, with what it had buffered lost.
    const broken = new Readable({ read() {} });
    for (let i = 0; i < 2 * 1024 * 1024; i += 16_384) broken.push(bytes.subarray(i, i + 16_384));
    const reported: number[] = [];
    const onWritten = (offset: number) => {
      if (reported.push(offset) === 1) broken.destroy(new Error('upstream connection reset'));
    };
    await assert.rejects(writer.writeFrom(broken, { onWritten }), /upstream connection reset/);
    assert.ok(reported.length >= 2, `the chunks taken before the break are written after the first write (${reported.join(', ')})`);
    assert.equal(reported.at(-1), writer.offset);
    assert.ok(writer.offset > 1024 * 1024 && writer.offset < 2 * 1024 * 1024, `paused at a full batch: ${writer.offset}`);
    // Resumed from the offset, as a pull asks for `Range: bytes=<offset>-`: the hash covers exactly the bytes on disk.
    await writer.writeFrom(Readable.from(chunksOf(bytes.subarray(writer.offset), 16_384)));
    assert.equal((await writer.commit()).size, bytes.length);
    assert.ok((await registry.blobs.read(digest, 1e7)).equals(bytes));
  });

  it('leaves a stream it stopped reading (past maxBytes) paused, not destroyed: its owner answers on it', async () => {
    const bytes = patterned(100_000, (i) => i % 256);
    const writer = await registry.blobs.openWriter({ expectedDigest: sha256(bytes) });
    const source = Readable.from(chunksOf(bytes, 10_000), { objectMode: false });
    await assert.rejects(writer.writeFrom(source, { maxBytes: 50_000 }), SizeOutOfBoundsError);
    assert.equal(source.destroyed, false);
    assert.equal(source.isPaused(), true);
    assert.equal(writer.offset, 50_000);
    await writer.abort();
  });

  it('flushes a large blob to the disk while it arrives; a flush that fails discards the bytes as a failed write does', async () => {
    // The descriptors' datasync is wrapped (on FileHandle's prototype) to see when the writer flushes, and to fail once.
    const probe = await open(join(dataDir, 'probe'), 'w');
    const prototype = Object.getPrototypeOf(probe) as { datasync: (this: FileHandle) => Promise<void> };
    await probe.close();
    const datasync = prototype.datasync;
    let arrived = 0;
    const flushedAt: number[] = [];
    let failure: Error | undefined;
    prototype.datasync = async function (this: FileHandle) {
      flushedAt.push(arrived);
      await datasync.call(this);
      if (failure) throw failure;
    };
    try {
      const bytes = patterned(12 * 1024 * 1024, (i) => (i * 29 + 1) % 256);
      const source = () =>
        Readable.from(
          (function* () {
            for (let i = 0; i < bytes.length; i += 64 * 1024) {
              arrived = i + 64 * 1024;
              yield bytes.subarray(i, i + 64 * 1024);
            }
          })(),
        );
      const info = await registry.blobs.ingest(sha256(bytes), bytes.length, source());
      assert.equal(info.size, bytes.length);
      assert.ok(flushedAt.some((at) => at < bytes.length), `flushed before the last chunk arrived: at ${flushedAt.join(', ')}`);

      failure = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      const other = Buffer.from(bytes.map((b) => b ^ 0xff));
      const writer = await registry.blobs.openWriter({ expectedDigest: sha256(other), expectedSize: other.length });
      await assert.rejects(writer.writeFrom(Readable.from(chunksOf(other, 64 * 1024))), (e) => e === failure);
      assert.equal(writer.usable, false);
      assert.deepEqual(readdirSync(uploadsDir()), [], 'the staging file is gone');
      assert.equal(await registry.blobs.has(sha256(other)), false);
    } finally {
      prototype.datasync = datasync;
    }
  });

  it("frees a source's chunks as soon as they are written when they are the writer's alone (releaseWritten), and only then", async () => {
    // Each chunk with an ArrayBuffer of its own, as a socket's reads have.
    const ownBuffers = (bytes: Buffer): Uint8Array[] => {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += 65536) chunks.push(new Uint8Array(bytes.subarray(i, i + 65536)));
      return chunks;
    };
    const bytes = patterned(3 * 1024 * 1024 + 5, (i) => (i * 17 + 9) % 256);
    const released = ownBuffers(bytes);
    const writer = await registry.blobs.openWriter({ expectedDigest: sha256(bytes), expectedSize: bytes.length });
    await writer.writeFrom(Readable.from(released), { releaseWritten: true });
    assert.ok(released.every((chunk) => (chunk.buffer as ArrayBuffer).detached), 'every chunk written is freed');
    assert.equal((await writer.commit()).size, bytes.length, 'hashed before they were freed');
    assert.ok((await registry.blobs.read(sha256(bytes), 1e7)).equals(bytes), 'and written');

    // Without it (a /v2 upload, a caller that keeps its chunks) nothing is detached.
    const other = Buffer.from(bytes.map((b) => b ^ 0x55));
    const kept = ownBuffers(other);
    await registry.blobs.ingest(sha256(other), other.length, Readable.from(kept));
    assert.ok(kept.every((chunk) => !(chunk.buffer as ArrayBuffer).detached));
    assert.equal(kept[0]![0], other[0], 'and still reads');
  });

  it('frees a buffer whose slices went to different writers once all of them are written, as a socket pool spreads them', async () => {
    // Node packs the reads of several sockets into one 64 KiB buffer: here each buffer's even slices go to one blob,
    // its odd slices to another.
    const buffers = Array.from({ length: 8 }, (_, i) => Buffer.alloc(65536, i + 1).buffer);
    const slices = (parity: number) => buffers.flatMap((buffer) => [0, 1, 2, 3].filter((slot) => slot % 2 === parity).map((slot) => new Uint8Array(buffer, slot * 16384, 16384)));
    const [even, odd] = [slices(0), slices(1)];
    const [evenBytes, oddBytes] = [Buffer.concat(even), Buffer.concat(odd)];
    const first = await registry.blobs.openWriter({ expectedDigest: sha256(evenBytes), expectedSize: evenBytes.length });
    await first.writeFrom(Readable.from(even), { releaseWritten: true });
    assert.ok(buffers.every((buffer) => !buffer.detached), 'half of each buffer written: all kept');
    const second = await registry.blobs.openWriter({ expectedDigest: sha256(oddBytes), expectedSize: oddBytes.length });
    await second.writeFrom(Readable.from(odd), { releaseWritten: true });
    assert.ok(buffers.every((buffer) => buffer.detached), 'the other half too: all freed');
    await Promise.all([first.commit(), second.commit()]);
    assert.ok((await registry.blobs.read(sha256(oddBytes), 1e6)).equals(oddBytes));
  });

  it('lets concurrent ingests of the same digest both succeed without corrupting the blob', async () => {
    const bytes = patterned(300_000, (i) => (i * 7 + 3) % 256);
    const digest = sha256(bytes);
    const results = await Promise.all([
      registry.blobs.ingest(digest, bytes.length, chunksOf(bytes, 1000)),
      registry.blobs.ingest(digest, bytes.length, chunksOf(bytes, 7777)),
      registry.blobs.ingest(digest, bytes.length, chunksOf(bytes, 65536)),
    ]);
    for (const r of results) assert.equal(r.digest, digest);
    assert.ok((await registry.blobs.read(digest, 1e6)).equals(bytes));
    assert.deepEqual(readdirSync(uploadsDir()), []);
  });

  it('accepts sha512 digests', async () => {
    const bytes = Buffer.from('sha512 content');
    const info = await registry.blobs.ingest(sha512(bytes), bytes.length, chunksOf(bytes, 3));
    assert.equal(info.digest, sha512(bytes));
    assert.equal(await registry.blobs.has(sha512(bytes)), true);
  });

  it('verifies against a digest given only at commit, rehashing when the algorithm differs', async () => {
    const bytes = Buffer.from('digest known only at the end');
    const writer = await registry.blobs.openWriter();
    await writer.write(bytes);
    const info = await writer.commit({ digest: sha512(bytes) });
    assert.equal(info.digest, sha512(bytes));
  });

  it('rejects malformed and unsupported digests with DIGEST_INVALID', async () => {
    for (const bad of ['sha256:abc', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'nonsense', `sha256:${'A'.repeat(64)}`]) {
      await assert.rejects(registry.blobs.has(bad), (e: unknown) => e instanceof RegistryError && e.code === 'DIGEST_INVALID');
    }
  });

  it('aborts a writer, removing its staging file', async () => {
    const writer = await registry.blobs.openWriter({ expectedDigest: sha256(Buffer.from('x')) });
    await writer.write(Buffer.from('partial'));
    assert.equal(readdirSync(uploadsDir()).length, 1);
    await writer.abort();
    assert.deepEqual(readdirSync(uploadsDir()), []);
  });

  it('deletes a blob and reports whether it was there', async () => {
    const bytes = Buffer.from('to be deleted');
    await registry.blobs.put(bytes);
    assert.equal(await registry.blobs.delete(sha256(bytes)), true);
    assert.equal(await registry.blobs.has(sha256(bytes)), false);
    assert.equal(await registry.blobs.delete(sha256(bytes)), false);
    await assert.rejects(registry.blobs.createReadStream(sha256(bytes)), (e: unknown) => e instanceof BlobUnknownError && e.digest === sha256(bytes));
  });
});
