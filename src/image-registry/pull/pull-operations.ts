// Pulls as tracked operations: each pull gets an id and a record (state, per-blob progress, result or error) that
// stays listed while it runs and among the last finished ones after. Identical pulls at once are one operation
// that every caller joins; once the last caller leaves (and none asked it to run to the end) it is stopped.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { BerthError, notFound, resourceExhaustion, type ErrorInfo } from '../../errors.js';
import { formatImageReference } from '../../oci/index.js';
import type { BlobProgress } from './blob-progress.js';
import type { BlobFetcher, ImagePuller, PullOutcome, RemoteRegistrySource } from './pull-image.js';
import { describePlatform } from './platform.js';
import { PullProgress, type PullLayer } from './pull-progress.js';
import type { PullSpec } from './pull-request.js';
import { pullMetrics } from './pull-metrics.js';

export type PullState = 'running' | 'done' | 'failed' | 'stopped';

/** What a pull is of, in the words of the contract's PullOperation. */
export interface PullSubject {
  registry: string;
  image: string;
  platform: string;
  target: string;
}

/** The contract's PullOperation. */
export interface PullRecord extends PullSubject {
  id: string;
  state: PullState;
  waiting: number;
  'run-to-end': boolean;
  started: string;
  finished?: string;
  'bytes-done': number;
  'bytes-total': number;
  layers: PullLayer[];
  result?: { name: string; digest: string; 'tag-updated': boolean };
  'error-message'?: string;
  'error-info'?: ErrorInfo;
}

/** Why a pull was stopped; never an answer to anyone, since nobody waits for a stopped pull. */
export class PullStoppedError extends Error {
  constructor() {
    super('stopped: nobody waited for this pull any more (its clients went away)');
    this.name = 'PullStoppedError';
  }
}

/** Time-ordered and unique: the start time in base 36, then random hex. */
const newPullId = () => `${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;

export function subjectOf(registry: string, spec: PullSpec): PullSubject {
  const { repository, tag, digest } = spec.source;
  return {
    registry,
    image: formatImageReference({ repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) }),
    platform: spec.platforms.kind === 'all' ? 'all' : describePlatform(spec.platforms.choice),
    target: formatImageReference({ repository: spec.target.repository, ...(spec.target.tag !== undefined ? { tag: spec.target.tag } : {}) }),
  };
}

export class PullOperation {
  readonly id = newPullId();
  readonly started = new Date();
  readonly progress: PullProgress;
  /** Settles with the pull; rejected with PullStoppedError when it was stopped. */
  readonly outcome: Promise<PullOutcome>;
  private state: PullState = 'running';
  private finished: Date | undefined;
  private waiters = 0;
  private runsToEnd = false;
  private readonly controller = new AbortController();
  private failure: { message: string; info?: ErrorInfo } | undefined;
  private result: PullOutcome | undefined;

  constructor(
    readonly subject: PullSubject,
    blobs: BlobProgress,
    transfers: BlobFetcher,
    /** The pull itself, getting its blobs through `tracked`. */
    run: (tracked: BlobFetcher) => Promise<PullOutcome>,
  ) {
    this.progress = new PullProgress(blobs);
    // Every blob's lease listens for the stop: an image may have any number of them.
    setMaxListeners(0, this.controller.signal);
    this.outcome = run(this.progress.tracking(transfers, this.controller.signal)).then(
      (outcome) => {
        this.progress.manifestStored(outcome.name, outcome.digest);
        this.result = outcome;
        this.settle('done');
        return outcome;
      },
      (error: unknown) => {
        const stopped = this.controller.signal.aborted;
        // A full disk or no file descriptors left is the machine's condition, said as such (not as a bug).
        const known = error instanceof BerthError ? error : resourceExhaustion(error);
        this.failure = stopped || !known
          ? { message: stopped ? (this.controller.signal.reason as Error).message : 'internal error: a bug in Berth; the log has the details' }
          : { message: known.message, ...(known.info ? { info: known.info } : {}) };
        this.progress.ended(stopped ? 'stopped' : 'failed');
        this.settle(stopped ? 'stopped' : 'failed');
        throw error;
      },
    );
    // A pull that runs to the end may have nobody to see how it ended but its record.
    this.outcome.catch(() => {});
  }

  private settle(state: PullState): void {
    this.state = state;
    this.finished = new Date();
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Stopped, or being stopped: a new caller must not join it. */
  get stopping(): boolean {
    return this.controller.signal.aborted;
  }

  /**
   * A caller waits for this pull from now until it calls the returned function (done, or its client went away).
   * When the last one leaves a pull that is not to run to the end, the pull stops.
   */
  join(): () => void {
    this.waiters++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.waiters === 0 && !this.runsToEnd && this.running) this.controller.abort(new PullStoppedError());
    };
  }

  /** The pull goes on to its end whether or not anyone waits (`wait=false`). */
  runToEnd(): void {
    this.runsToEnd = true;
  }

  record(): PullRecord {
    const layers = this.progress.layers.map((layer) => ({ ...layer }));
    return {
      id: this.id,
      ...this.subject,
      state: this.state,
      waiting: this.waiters,
      'run-to-end': this.runsToEnd,
      started: this.started.toISOString(),
      ...(this.finished ? { finished: this.finished.toISOString() } : {}),
      'bytes-done': layers.reduce((sum, layer) => sum + layer['bytes-done'], 0),
      'bytes-total': layers.reduce((sum, layer) => sum + layer['bytes-total'], 0),
      layers,
      ...(this.result ? { result: { name: this.result.name, digest: this.result.digest, 'tag-updated': this.result.tagUpdated } } : {}),
      ...(this.failure ? { 'error-message': this.failure.message, ...(this.failure.info ? { 'error-info': this.failure.info } : {}) } : {}),
    };
  }
}

export interface PullOperationsOptions {
  /** How many finished pulls stay listed (the running ones always are). */
  history: number;
}

export class PullOperations {
  /** Running operations by what they pull: a second identical request joins the first. */
  private readonly running = new Map<string, PullOperation>();
  /** Every listed operation by id, in the order they started. */
  private readonly operations = new Map<string, PullOperation>();
  /** Finished operations, oldest first: the first to go when there are more than `history`. */
  private readonly finished: PullOperation[] = [];

  constructor(
    private readonly puller: ImagePuller,
    private readonly transfers: BlobFetcher,
    private readonly blobs: BlobProgress,
    private readonly options: PullOperationsOptions,
  ) {}

  /**
   * The running operation pulling exactly this, or a new one. The caller joins it (or makes it run to the end)
   * at once, in the same turn: an operation nobody joined is never stopped, only one everybody left.
   */
  start(remote: RemoteRegistrySource, spec: PullSpec): PullOperation {
    // The spec is built field by field in a fixed order, so equal requests serialise to equal keys.
    const key = JSON.stringify([remote.registry, spec]);
    const current = this.running.get(key);
    const { registry } = remote;
    const { repository } = spec.source;
    if (current && !current.stopping) {
      pullMetrics.joined(registry, 'pull');
      return current;
    }
    const operation = new PullOperation(subjectOf(registry, spec), this.blobs, this.transfers, (tracked) => this.puller.pull(remote, spec, tracked));
    pullMetrics.started(registry, repository);
    this.running.set(key, operation);
    this.operations.set(operation.id, operation);
    const finish = () => {
      if (this.running.get(key) === operation) this.running.delete(key);
      this.finished.push(operation);
      while (this.finished.length > this.options.history) this.operations.delete(this.finished.shift()!.id);
    };
    operation.outcome.then(
      () => {
        finish();
        pullMetrics.finished(registry, repository, 'done');
      },
      (error: unknown) => {
        finish();
        pullMetrics.finished(registry, repository, operation.stopping ? 'stopped' : 'failed', error);
      },
    );
    return operation;
  }

  list(): PullOperation[] {
    return [...this.operations.values()];
  }

  get(id: string): PullOperation {
    const operation = this.operations.get(id);
    if (!operation) throw notFound(`no pull '${id}': it never ran here, or finished longer ago than the last ${this.options.history} kept`, { id });
    return operation;
  }
}
