// Something made asynchronously at its first use (a package loaded, a client built on it) and kept from then on.
// A failed attempt is not kept: the next use tries again, so a load that failed for a passing reason (no file
// descriptor left, EMFILE) does not break every later request.
export class Lazy<T> {
  private pending: Promise<T> | undefined;

  constructor(private readonly make: () => Promise<T>) {}

  /** The thing, made now if it is not made or being made. */
  get(): Promise<T> {
    this.pending ??= this.make().catch((error: unknown) => {
      this.pending = undefined;
      throw error;
    });
    return this.pending;
  }

  /** The thing if it was made (or is being made, and that succeeds); undefined otherwise. Never makes it. */
  async made(): Promise<T | undefined> {
    return this.pending?.catch(() => undefined);
  }
}
