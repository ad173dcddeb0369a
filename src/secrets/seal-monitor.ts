// Tracks whether the secret store can serve: polls sys/seal-status, and hears at once from any call that met a
// sealed (503) or unreachable store. While it cannot serve, /v1 answers 503 with Retry-After.
import type { SealState, SecretStore } from './secret-store.js';
import { observeSealState } from './secret-metrics.js';

export const SEAL_POLL_INTERVAL_MS = 2_000;

export class SealMonitor {
  private current: SealState = 'unsealed';
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly store: SecretStore,
    private readonly onChange: (state: SealState, previous: SealState) => void = () => {},
    private readonly intervalMs = SEAL_POLL_INTERVAL_MS,
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

  /** One look at sys/seal-status; concurrent callers share it. */
  poll(): Promise<void> {
    this.polling ??= this.store
      .sealState()
      .then((state) => this.set(state))
      .finally(() => (this.polling = undefined));
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
