// Tracks whether the secret store can serve: polls sys/seal-status, and hears at once from any call that met a
// sealed (503) or unreachable store. While it cannot serve, /v1 answers 503 with Retry-After.
import type { SealState, SecretStore } from './secret-store.js';
import { observeSealState } from './secret-metrics.js';

export const SEAL_POLL_INTERVAL_MS = 2_000;
/**
 * A look that has not settled by then counts as `unreachable`: one request hung on a dead socket (seen with 10,000
 * sites' connections arriving at once) must never stop the polling and leave /v1 answering 503 for good.
 */
export const SEAL_POLL_DEADLINE_MS = 10_000;

export class SealMonitor {
  private current: SealState = 'unsealed';
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly store: SecretStore,
    private readonly onChange: (state: SealState, previous: SealState) => void = () => {},
    private readonly intervalMs = SEAL_POLL_INTERVAL_MS,
    private readonly deadlineMs = SEAL_POLL_DEADLINE_MS,
  ) {
    observeSealState(this);
    store.onTrouble = (state) => {
      this.set(state);
      // Poll soon so recovery is seen without waiting a whole interval.
      void this.poll();
    };
  }

  get state(): SealState {
    return this.current;
  }

  private set(state: SealState): void {
    if (state === this.current) return;
    const previous = this.current;
    this.current = state;
    this.onChange(state, previous);
  }

  /** One look at sys/seal-status, `unreachable` when it has not settled by the deadline. */
  private async look(): Promise<SealState> {
    let deadline: NodeJS.Timeout | undefined;
    const overdue = new Promise<SealState>((resolve) => {
      deadline = setTimeout(() => resolve('unreachable'), this.deadlineMs);
    });
    try {
      return await Promise.race([this.store.sealState(), overdue]);
    } finally {
      clearTimeout(deadline);
    }
  }

  /**
   * Looks at sys/seal-status; concurrent callers share it. A store that served until now is taken for unreachable
   * only when a second look, made at once, fails too: one keep-alive connection the store had just closed
   * (ECONNRESET) must not turn the whole API into 503s, which thousands of sites then retry at once.
   */
  poll(): Promise<void> {
    this.polling ??= (async () => {
      const state = await this.look();
      this.set(state === 'unreachable' && this.current === 'unsealed' ? await this.look() : state);
    })().finally(() => (this.polling = undefined));
    return this.polling;
  }

  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
