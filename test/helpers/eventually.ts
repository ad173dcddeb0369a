// Waiting in tests for a state that arrives by itself (a replica catching up, a seal being noticed).
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it returns a value other than undefined or false, and returns that value. A check that throws
 * is tried again; its last error is reported if the limit passes. The limit is only a safety net for a hung test,
 * never a pacing device.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${limitMs / 1000} s${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(50);
  }
}
