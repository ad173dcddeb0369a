// Revokes tokens when they expire, as Vault's expiration manager does, rather than only refusing
// them when next presented: an expired token's tree (its non-orphan descendants) goes with it,
// whether or not anyone uses those tokens again. One timer, set for the earliest expiry known.

/** setTimeout's longest delay (about 24.8 days); a later expiry is reached by waking and looking again. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** After a failed sweep (storage error), the next try. */
const RETRY_MS = 1000;

export class TokenReaper {
  private timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (Unix ms); Infinity when none is pending. */
  private dueAt = Infinity;

  /**
   * @param sweep revokes what has expired and returns the next expiry (Unix ms), or null for none.
   */
  constructor(private readonly sweep: () => Promise<number | null>) {}

  /** Makes sure a sweep runs no later than `at` (Unix ms). */
  wakeBy(at: number): void {
    if (at >= this.dueAt) return;
    clearTimeout(this.timer);
    const delay = Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS);
    this.dueAt = Date.now() + delay;
    this.timer = setTimeout(() => this.fire(), delay);
    // Pending expiries must not keep a stopping process alive.
    this.timer.unref();
  }

  /** Cancels the pending sweep (the vault is sealed: there is nothing to read until it is unsealed). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.dueAt = Infinity;
    this.sweep().then(
      (next) => {
        if (next !== null) this.wakeBy(next);
      },
      (err: unknown) => {
        process.stderr.write(`vault-dev: revoking expired tokens failed: ${(err as Error).message}\n`);
        this.wakeBy(Date.now() + RETRY_MS);
      },
    );
  }
}
