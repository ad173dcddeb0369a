// Ctrl-C while a command waits (a pull, a sign-on in a browser): the work is aborted through its signal, and the
// command ends with exit 130 and a line saying what became of it.
import { InterruptedError } from './cli-error.js';

/** Runs `work` with Ctrl-C turned into an abort of its signal; the abort becomes an InterruptedError saying `onInterrupt()`. */
export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>, onInterrupt: () => string): Promise<T> {
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  try {
    return await work(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) throw new InterruptedError(onInterrupt());
    throw error;
  } finally {
    process.off('SIGINT', interrupt);
  }
}
