// Flushing a file's bytes to the disk while it is still being written. Otherwise a blob's every byte waits in the page
// cache until commit's fsync, which then waits for all of them at once: the four 25 MB layers of a 100 MB pull spent
// 22-34 ms in their fsyncs at the very end, with both cores idle. Flushed as they come, the fsync finds little left.
import type { FileHandle } from 'node:fs/promises';

/** Bytes written to a file since its last flush began, after which it is flushed again. */
const FLUSH_EVERY_BYTES = 4 * 1024 * 1024;

/** One file written through a WriteBehind. */
export interface FlushedBehind {
  /** Counts bytes that reached the file; may start a flush, never waits for one. */
  written(bytes: number): void;
  /** Waits for this file's flush under way, if any (its descriptor must stay open until then); throws if a flush failed. */
  settle(): Promise<void>;
}

/**
 * One per store, with at most one flush under way for all its files at once. A flush holds one of libuv's few
 * threads until the disk has the bytes; on slow storage, several would hold the threads the writes themselves (and
 * every other file operation) need. A file that finds the flush taken carries its bytes over to a later turn.
 */
export class WriteBehind {
  private flushing = false;

  constructor(private readonly everyBytes = FLUSH_EVERY_BYTES) {}

  /** Follows one file being written through `handle`, an open descriptor with its bytes not yet all on disk. */
  follow(handle: Pick<FileHandle, 'datasync'>): FlushedBehind {
    let unflushed = 0;
    let underWay: Promise<void> | undefined;
    let failure: { error: unknown } | undefined;
    return {
      written: (bytes) => {
        unflushed += bytes;
        if (this.flushing || failure || unflushed < this.everyBytes) return;
        this.flushing = true;
        unflushed = 0;
        underWay = handle
          .datasync()
          .catch((error: unknown) => {
            failure = { error };
          })
          .finally(() => {
            this.flushing = false;
            underWay = undefined;
          });
      },
      settle: async () => {
        await underWay;
        if (failure) throw failure.error;
      },
    };
  }
}
