// An in-process shared/exclusive lock. Blob commits and manifest writes hold it shared (they run side by side);
// garbage collection holds it exclusive, so it never sweeps between a manifest's presence check and its index write.

interface Waiter {
  exclusive: boolean;
  grant: () => void;
}

export class SharedExclusiveLock {
  private sharedHolders = 0;
  private exclusiveHeld = false;
  // FIFO so a waiting GC is not starved by a steady stream of commits, nor commits by GC.
  private readonly waiters: Waiter[] = [];

  runShared<T>(fn: () => Promise<T>): Promise<T> {
    return this.run(false, fn);
  }

  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.run(true, fn);
  }

  private async run<T>(exclusive: boolean, fn: () => Promise<T>): Promise<T> {
    await this.acquire(exclusive);
    try {
      return await fn();
    } finally {
      this.release(exclusive);
    }
  }

  private canGrant(exclusive: boolean): boolean {
    return exclusive ? !this.exclusiveHeld && this.sharedHolders === 0 : !this.exclusiveHeld;
  }

  private acquire(exclusive: boolean): Promise<void> {
    if (this.waiters.length === 0 && this.canGrant(exclusive)) {
      this.take(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push({ exclusive, grant: resolve }));
  }

  private take(exclusive: boolean): void {
    if (exclusive) this.exclusiveHeld = true;
    else this.sharedHolders += 1;
  }

  private release(exclusive: boolean): void {
    if (exclusive) this.exclusiveHeld = false;
    else this.sharedHolders -= 1;
    while (this.waiters.length > 0 && this.canGrant(this.waiters[0]!.exclusive)) {
      const next = this.waiters.shift()!;
      this.take(next.exclusive);
      next.grant();
      if (next.exclusive) break;
    }
  }
}
