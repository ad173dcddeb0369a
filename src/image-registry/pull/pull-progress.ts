// One pull's progress: every blob it needs (image layers and configs) with its bytes done and total, fed by the
// BlobProgress of the site registry's writers and by the pull's own transfer leases; and the events a client
// following the pull sees (the lines of the NDJSON stream), with `bytes` events thinned to a few a second.
import type { Descriptor } from '../../registry/index.js';
import type { BlobSource, TransferLease } from './blob-transfer.js';
import type { BlobProgress, BlobWriteEvent } from './blob-progress.js';
import type { BlobFetcher } from './pull-image.js';

/** The events of the contract's PullProgressEvent, but `pull-started`, which the operation itself writes. */
export type PullEvent =
  | { event: 'layer-started'; digest: string; 'media-type': string; 'bytes-total': number }
  | { event: 'bytes'; digest: string; 'bytes-done': number; 'bytes-total': number }
  | { event: 'layer-done'; digest: string; 'bytes-total': number; fetched: boolean }
  | { event: 'manifest-stored'; name: string; digest: string };

export type LayerState = 'waiting' | 'running' | 'done' | 'failed' | 'stopped';

/** A blob of the pull as the contract's PullLayer shows it. */
export interface PullLayer {
  digest: string;
  'media-type': string;
  state: LayerState;
  'bytes-done': number;
  'bytes-total': number;
  /** False while no byte of it was written for this pull; stays false for a blob the store already had. */
  fetched: boolean;
}

/** `promise`, or the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export class PullProgress {
  private readonly layerMap = new Map<string, PullLayer>();
  private readonly followers = new Set<(event: PullEvent) => void>();

  constructor(private readonly blobs: BlobProgress) {}

  get layers(): PullLayer[] {
    return [...this.layerMap.values()];
  }

  /** Calls `listener` with every event from now on, until the returned function is called. */
  follow(listener: (event: PullEvent) => void): () => void {
    this.followers.add(listener);
    return () => this.followers.delete(listener);
  }

  private emit(event: PullEvent): void {
    for (const follower of this.followers) follower(event);
  }

  /**
   * The transfers as this pull sees them: each blob is recorded and watched while it arrives, and every lease
   * settles as soon as `signal` aborts, so the pull stops at once; leaving the lease then aborts the transfer
   * unless another pull still needs that blob.
   */
  tracking(transfers: BlobFetcher, signal: AbortSignal): BlobFetcher {
    return {
      fetch: (source: BlobSource, descriptor: Descriptor): TransferLease => {
        // Never start a transfer for a pull already stopped; its lease fails at once and has nothing to leave.
        if (signal.aborted) return { done: Promise.reject(signal.reason), leave: () => {} };
        const layer = this.layerFor(descriptor);
        const unwatch = this.blobs.watch(descriptor.digest, (event) => this.written(layer, event));
        // Joining a transfer another pull began: its bytes so far count from the start.
        const offset = this.blobs.offsetOf(descriptor.digest);
        if (offset !== undefined) this.written(layer, { kind: 'bytes', offset });
        const lease = transfers.fetch(source, descriptor);
        const done = untilAborted(lease.done, signal).then(
          () => {
            unwatch();
            this.layerDone(layer);
          },
          (error: unknown) => {
            unwatch();
            this.layerEnded(layer, signal.aborted ? 'stopped' : 'failed');
            throw error;
          },
        );
        return { done, leave: lease.leave };
      },
    };
  }

  manifestStored(name: string, digest: string): void {
    this.emit({ event: 'manifest-stored', name, digest });
  }

  /** The pull ended without its image: blobs not yet in the store end with it. */
  ended(state: 'failed' | 'stopped'): void {
    for (const layer of this.layerMap.values()) this.layerEnded(layer, state);
  }

  private layerFor(descriptor: Descriptor): PullLayer {
    let layer = this.layerMap.get(descriptor.digest);
    if (!layer) {
      layer = { digest: descriptor.digest, 'media-type': descriptor.mediaType, state: 'waiting', 'bytes-done': 0, 'bytes-total': descriptor.size, fetched: false };
      this.layerMap.set(descriptor.digest, layer);
      this.emit({ event: 'layer-started', digest: layer.digest, 'media-type': layer['media-type'], 'bytes-total': layer['bytes-total'] });
    }
    return layer;
  }

  private written(layer: PullLayer, event: BlobWriteEvent): void {
    if (layer.state === 'done') return;
    switch (event.kind) {
      case 'opened':
      case 'bytes':
        layer.state = 'running';
        layer.fetched = true;
        layer['bytes-done'] = event.kind === 'bytes' ? event.offset : 0;
        break;
      case 'committed':
        layer['bytes-done'] = layer['bytes-total'];
        break;
      case 'aborted':
        // Whatever was written is discarded: a retry, if there is one, starts afresh or resumes into a new writer.
        layer['bytes-done'] = 0;
        break;
    }
    // Once per chunk written: build the event only when someone follows.
    if (this.followers.size > 0) this.emit({ event: 'bytes', digest: layer.digest, 'bytes-done': layer['bytes-done'], 'bytes-total': layer['bytes-total'] });
  }

  private layerDone(layer: PullLayer): void {
    if (layer.state === 'done') return;
    layer.state = 'done';
    layer['bytes-done'] = layer['bytes-total'];
    this.emit({ event: 'layer-done', digest: layer.digest, 'bytes-total': layer['bytes-total'], fetched: layer.fetched });
  }

  private layerEnded(layer: PullLayer, state: 'failed' | 'stopped'): void {
    if (layer.state === 'done' || layer.state === 'failed' || layer.state === 'stopped') return;
    layer.state = state;
    layer['bytes-done'] = 0;
  }
}

/** How often a follower gets a `bytes` event for a layer at most. */
export const BYTES_EVENT_INTERVAL_MS = 250;

export interface ProgressFeed {
  /** Sends the `bytes` events held back, then stops following. */
  close(): void;
}

/**
 * Follows `progress` for a client: first what happened so far (a client joining a running pull sees every blob),
 * then each event as it comes, except `bytes`, of which each layer's latest is sent every `intervalMs`.
 */
export function followProgress(progress: PullProgress, send: (event: PullEvent) => void, intervalMs = BYTES_EVENT_INTERVAL_MS): ProgressFeed {
  const held = new Map<string, PullEvent>();
  const flush = () => {
    for (const event of held.values()) send(event);
    held.clear();
  };
  for (const layer of progress.layers) {
    send({ event: 'layer-started', digest: layer.digest, 'media-type': layer['media-type'], 'bytes-total': layer['bytes-total'] });
    if (layer.state === 'done') send({ event: 'layer-done', digest: layer.digest, 'bytes-total': layer['bytes-total'], fetched: layer.fetched });
    else if (layer['bytes-done'] > 0) send({ event: 'bytes', digest: layer.digest, 'bytes-done': layer['bytes-done'], 'bytes-total': layer['bytes-total'] });
  }
  const unfollow = progress.follow((event) => {
    if (event.event === 'bytes') {
      held.set(event.digest, event);
      return;
    }
    // A layer's end makes its held bytes stale; anything else goes out after what was held, in order.
    if (event.event === 'layer-done') held.delete(event.digest);
    flush();
    send(event);
  });
  const timer = setInterval(flush, intervalMs);
  timer.unref();
  return {
    close() {
      clearInterval(timer);
      unfollow();
      flush();
    },
  };
}
