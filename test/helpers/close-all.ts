// Stopping several things at once in a test's `after`: every one is stopped even when another fails.

/**
 * Runs every closer, in order, even when one fails (so no process is left running), then fails with the first
 * failure: a leak found in a process's output when it stops must fail the test, not be printed and forgotten.
 */
export async function closeAll(closers: Array<() => Promise<unknown> | undefined>): Promise<void> {
  const failures: unknown[] = [];
  for (const close of closers) {
    try {
      await close();
    } catch (e) {
      failures.push(e);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} closers failed: ${failures.map(String).join('; ')}`);
}
