// Single flight: while work for a key runs, callers asking for the same key share its promise instead of
// starting it again. Two identical pull requests at once therefore make one pull, and one transfer per blob.

export class SingleFlight<V> {
  private readonly running = new Map<string, Promise<V>>();

  /** The running promise for `key`, or a new one from `work`; forgotten once it settles. */
  run(key: string, work: () => Promise<V>): Promise<V> {
    const existing = this.running.get(key);
    if (existing) return existing;
    const promise = (async () => work())().finally(() => {
      if (this.running.get(key) === promise) this.running.delete(key);
    });
    this.running.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.running.size;
  }
}
