// Progress of the blobs being written into the site registry by pulls, by digest: a view of the BlobStore that
// reports every writer opened for a known digest, each write of its bytes to the file, and its commit or abort.
// Pulls watch the digests they need, whichever pull's transfer is doing the writing (one transfer per digest serves
// them all).
import type { BlobStore, BlobWriter, ByteSource, StagedBytes, WriteFromOptions } from '../../registry/index.js';

export type BlobWriteEvent =
  /** A transfer began writing the blob (again from 0 when a registry ignored `Range`). */
  | { kind: 'opened' }
  /** `offset` bytes of the blob are written now. */
  | { kind: 'bytes'; offset: number }
  /** The blob is verified and published. */
  | { kind: 'committed' }
  /** The bytes written were discarded (a failed, stopped or mismatching transfer). */
  | { kind: 'aborted' };

export type BlobWriteListener = (event: BlobWriteEvent) => void;

export class BlobProgress {
  private readonly listeners = new Map<string, Set<BlobWriteListener>>();
  /** Bytes written so far by the writers open now, by digest: what a pull joining a running transfer starts from. */
  private readonly offsets = new Map<string, number>();
  /** The writer writing each digest now: pull-through reads a blob from it while it arrives. */
  private readonly writers = new Map<string, BlobWriter>();

  /** Calls `listener` with every write event of `digest` until the returned function is called. */
  watch(digest: string, listener: BlobWriteListener): () => void {
    let set = this.listeners.get(digest);
    if (!set) {
      set = new Set();
      this.listeners.set(digest, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(digest) === set) this.listeners.delete(digest);
    };
  }

  /** The writer open for `digest` now, if one is (its bytes below `offset` are final). */
  writerOf(digest: string): BlobWriter | undefined {
    return this.writers.get(digest);
  }

  /** Bytes of `digest` written so far by the writer open for it now, if one is. */
  offsetOf(digest: string): number | undefined {
    return this.offsets.get(digest);
  }

  report(digest: string, event: BlobWriteEvent): void {
    if (event.kind === 'opened') this.offsets.set(digest, 0);
    else if (event.kind === 'bytes') this.offsets.set(digest, event.offset);
    else this.offsets.delete(digest);
    for (const listener of this.listeners.get(digest) ?? []) listener(event);
  }

  /**
   * `store` with its writers for a known digest reporting here. A Proxy rather than a class listing every method:
   * everything but `openWriter` is the store's own, whatever the ingest API grows.
   */
  reporting<S extends Pick<BlobStore, 'openWriter'>>(store: S): S {
    const openWriter: BlobStore['openWriter'] = async (options) => {
      const writer = await store.openWriter(options);
      const digest = options?.expectedDigest;
      if (digest === undefined) return writer;
      const reporting: BlobWriter = new ReportingWriter(writer, (event) => {
        if ((event.kind === 'committed' || event.kind === 'aborted') && this.writers.get(digest) === reporting) this.writers.delete(digest);
        this.report(digest, event);
      });
      // Set in the same turn as the `opened` event its constructor reported: a listener sees it there.
      this.writers.set(digest, reporting);
      return reporting;
    };
    return new Proxy(store, {
      get(target, property) {
        if (property === 'openWriter') return openWriter;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}

/** A writer that reports what it does; the bytes pass through untouched. */
class ReportingWriter implements BlobWriter {
  constructor(
    private readonly inner: BlobWriter,
    private readonly report: BlobWriteListener,
  ) {
    report({ kind: 'opened' });
  }

  get id(): string {
    return this.inner.id;
  }

  get offset(): number {
    return this.inner.offset;
  }

  get expectedDigest(): string | undefined {
    return this.inner.expectedDigest;
  }

  get lastActivity(): Date {
    return this.inner.lastActivity;
  }

  get usable(): boolean {
    return this.inner.usable;
  }

  async write(chunk: Uint8Array): Promise<void> {
    await this.inner.write(chunk);
    this.report({ kind: 'bytes', offset: this.inner.offset });
  }

  writeFrom(source: ByteSource, options: WriteFromOptions = {}): Promise<number> {
    // Reported as each write reaches the file (a batch of chunks), not per chunk: `offset` moves only then.
    return this.inner.writeFrom(source, {
      ...options,
      onWritten: (offset) => {
        options.onWritten?.(offset);
        this.report({ kind: 'bytes', offset });
      },
    });
  }

  async commit(...args: Parameters<BlobWriter['commit']>): ReturnType<BlobWriter['commit']> {
    try {
      const info = await this.inner.commit(...args);
      this.report({ kind: 'committed' });
      return info;
    } catch (error) {
      this.report({ kind: 'aborted' });
      throw error;
    }
  }

  async abort(): Promise<void> {
    await this.inner.abort();
    this.report({ kind: 'aborted' });
  }

  openReader(): Promise<StagedBytes> {
    return this.inner.openReader();
  }
}
