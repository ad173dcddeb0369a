// Freeing a source's memory as soon as its bytes are written, rather than whenever V8 next collects. A pull's chunks
// are slices of the 64 KiB buffers a socket reads into, some 16,000 of them for 1 GB, and V8 found the ones already
// written only now and then: they were 14-18 MiB of the 46-54 MiB a fresh process's first 1 GB pull grew by.

/**
 * Detaches an ArrayBuffer once every one of its bytes has been handed over here, which frees its memory at once.
 * Only for sources whose chunks are their consumer's alone, each byte handed over once (a socket's reads): a detached
 * buffer reads as empty everywhere. A buffer some of whose bytes never come (a protocol's framing, a pool other
 * Buffers share, reads a stream copied into one) is never covered, and V8 frees it as before. One per store: Node
 * packs the reads of several sockets into one 64 KiB buffer, so its slices reach several writers (the 4 layers of one
 * pull: 95% of a 1 GB pull's bytes were freed here counted per writer, 97% counted together).
 */
export class ConsumedBuffers {
  /** Bytes handed over so far of each buffer not yet covered; weak, so one never covered costs nothing here. */
  private readonly handedOver = new WeakMap<ArrayBuffer, number>();

  release(chunks: readonly Uint8Array[]): void {
    for (const chunk of chunks) {
      const buffer = chunk.buffer;
      if (!(buffer instanceof ArrayBuffer) || buffer.detached || chunk.byteLength === 0) continue;
      const bytes = (this.handedOver.get(buffer) ?? 0) + chunk.byteLength;
      if (bytes < buffer.byteLength) {
        this.handedOver.set(buffer, bytes);
        continue;
      }
      this.handedOver.delete(buffer);
      detach(buffer);
    }
  }
}

/** `transfer(0)` detaches the buffer and drops its memory; a buffer its owner made non-detachable is left to V8. */
function detach(buffer: ArrayBuffer): void {
  try {
    buffer.transfer(0);
  } catch {
    // WebAssembly memory and buffers with a detach key refuse; they were never ours to free.
  }
}
