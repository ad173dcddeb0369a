// ConsumedBuffers on real ArrayBuffers: one is detached (its memory freed) exactly when all of its bytes have been
// handed over, never before, and never when some of its bytes never come (framing, a pool other Buffers share).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsumedBuffers } from '../../src/registry/storage/consumed-buffers.js';

/** A buffer the size of a socket's read, in four slices as a TLS socket hands its 16 KiB records over. */
function readBuffer(): { buffer: ArrayBuffer; slices: Uint8Array[] } {
  const buffer = new ArrayBuffer(64 * 1024);
  new Uint8Array(buffer).fill(7);
  return { buffer, slices: [0, 1, 2, 3].map((i) => new Uint8Array(buffer, i * 16 * 1024, 16 * 1024)) };
}

/** WebAssembly's memory, whose buffer refuses to be detached (the global is not in this project's type library). */
const { WebAssembly } = globalThis as unknown as { WebAssembly: { Memory: new (size: { initial: number }) => { buffer: ArrayBuffer } } };

describe('ConsumedBuffers', () => {
  it('detaches a buffer once every byte of it was handed over, in one call or several', () => {
    const consumed = new ConsumedBuffers();
    const first = readBuffer();
    consumed.release(first.slices.slice(0, 3));
    assert.equal(first.buffer.detached, false, 'three of four slices: kept');
    assert.equal(first.slices[3]![0], 7, 'and the rest still reads');
    consumed.release([first.slices[3]!]);
    assert.equal(first.buffer.detached, true);
    assert.equal(first.slices[0]!.byteLength, 0, 'a detached buffer reads as empty');

    const second = readBuffer();
    consumed.release(second.slices);
    assert.equal(second.buffer.detached, true);
  });

  it('keeps a buffer some of whose bytes never come: a protocol framing them, a slice not handed over', () => {
    const consumed = new ConsumedBuffers();
    const framed = new ArrayBuffer(1000);
    // A chunked body: "3e8\r\n" before the data and "\r\n" after it are never body bytes.
    consumed.release([new Uint8Array(framed, 5, 993)]);
    assert.equal(framed.detached, false);
    const partly = readBuffer();
    consumed.release([partly.slices[0]!, partly.slices[1]!, partly.slices[3]!]);
    assert.equal(partly.buffer.detached, false);
  });

  it("never detaches Node's shared Buffer pool, and Buffers allocated after it still work", () => {
    const consumed = new ConsumedBuffers();
    const pooled = [Buffer.from('first chunk'), Buffer.from('second chunk'), Buffer.allocUnsafe(100).fill(1)];
    assert.ok(pooled.every((b) => b.buffer === pooled[0]!.buffer && b.buffer.byteLength > b.byteLength), 'slices of one pool');
    consumed.release(pooled);
    assert.equal((pooled[0]!.buffer as ArrayBuffer).detached, false);
    assert.equal(pooled[0]!.toString(), 'first chunk');
    assert.equal(Buffer.from('allocated afterwards').toString(), 'allocated afterwards');
  });

  it('leaves alone what cannot be detached: WebAssembly memory, a SharedArrayBuffer, an empty chunk', () => {
    const consumed = new ConsumedBuffers();
    const memory = new WebAssembly.Memory({ initial: 1 });
    const shared = new SharedArrayBuffer(16);
    const empty = new ArrayBuffer(0);
    consumed.release([new Uint8Array(memory.buffer), new Uint8Array(shared), new Uint8Array(empty)]);
    assert.equal(memory.buffer.byteLength, 64 * 1024, 'the memory is intact');
    assert.equal(shared.byteLength, 16);
    assert.equal(empty.detached, false);
  });
});
