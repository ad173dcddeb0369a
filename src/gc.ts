// V8's garbage collector, run by Berth at two moments V8 cannot see for itself on a server:
// - when work has stopped (idle-memory.ts): one memory-reducing collection gives back what the work grew;
// - while large blobs stream through (the blob store): every 16 KiB TLS record of a pull or push arrives in a buffer of
//   its own, and V8 frees dead buffers only at its next collection, which on its own comes after up to 64 MiB of
//   them. A young-generation collection every few MiB streamed keeps that garbage small (about 0.3 ms each).
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (options: { type: 'minor' | 'major'; execution: 'sync'; flavor?: 'regular' | 'last-resort' }) => void;

let collect: Collect | undefined;
function collector(): Collect {
  if (!collect) {
    // `gc` exists only in contexts made after --expose-gc is set; one small context is made for it, once.
    v8.setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as Collect;
  }
  return collect;
}

/** Prepares the collector now (at start-up), so the first call later does not pay for it. */
export function prepareCollector(): void {
  collector();
}

/** The collection that also shrinks the young generation to its smallest and hands freed pages back to the system. */
export function collectAllGarbage(): void {
  collector()({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** Bytes of blob data streamed (written to disk) between two young-generation collections. */
const STREAMED_BYTES_PER_COLLECTION = 8 * 1024 * 1024;
let streamedSinceCollection = 0;

/** Counts blob bytes that went through a buffer; runs a young-generation collection every few MiB of them. */
export function noteBytesStreamed(bytes: number): void {
  streamedSinceCollection += bytes;
  if (streamedSinceCollection < STREAMED_BYTES_PER_COLLECTION) return;
  streamedSinceCollection = 0;
  collector()({ type: 'minor', execution: 'sync' });
}
