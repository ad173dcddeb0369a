// What pull-through of each mirrored registry has met since Berth started, for the registry's state
// (`pull-through` in /v1/state/image-registry/remote-registries) and its metrics: hits, misses, manifests served
// stale, and the last time asking the remote registry failed. In memory: a restart starts the counts again.
import { BerthError } from '../../errors.js';
import { UpstreamError } from '../../oci/index.js';
import { pullThroughMetrics, type PullThroughObject } from './pull-through-metrics.js';

/** The contract's PullThroughState. */
export interface PullThroughState {
  hits: number;
  misses: number;
  'served-stale': number;
  'last-upstream-failure'?: { time: string; repository: string; 'error-message': string; kind: string };
}

/** What failed, in the words of the registry client (`connect`, `timeout`, ...) or of Berth (`unavailable`). */
export function failureKindOf(error: unknown): string {
  if (error instanceof UpstreamError) return error.failure.kind;
  if (error instanceof BerthError) return typeof error.info?.kind === 'string' ? error.info.kind : error.kind;
  return 'internal';
}

export class PullThroughLog {
  private readonly states = new Map<string, PullThroughState>();

  private stateOf(registry: string): PullThroughState {
    let state = this.states.get(registry);
    if (!state) {
      state = { hits: 0, misses: 0, 'served-stale': 0 };
      this.states.set(registry, state);
    }
    return state;
  }

  hit(registry: string, object: PullThroughObject): void {
    this.stateOf(registry).hits++;
    pullThroughMetrics.served(registry, object, 'hit');
  }

  miss(registry: string, object: PullThroughObject): void {
    this.stateOf(registry).misses++;
    pullThroughMetrics.served(registry, object, 'miss');
  }

  /** Bytes that came from the remote registry for pull-through, once each. */
  fetched(registry: string, bytes: number): void {
    pullThroughMetrics.fetched(registry, bytes);
  }

  stale(registry: string): void {
    this.stateOf(registry)['served-stale']++;
    pullThroughMetrics.served(registry, 'manifest', 'stale');
  }

  /** Asking the remote registry failed; `unavailable` when nothing could be served instead. */
  failed(registry: string, object: PullThroughObject, repository: string, error: unknown, unavailable: boolean): void {
    const message = error instanceof Error ? error.message : String(error);
    this.stateOf(registry)['last-upstream-failure'] = { time: new Date().toISOString(), repository, 'error-message': message, kind: failureKindOf(error) };
    if (unavailable) pullThroughMetrics.served(registry, object, 'unavailable');
  }

  /** The state of `registry`, when pull-through served anything of it since start. */
  get(registry: string): PullThroughState | undefined {
    const state = this.states.get(registry);
    return state && structuredClone(state);
  }
}
