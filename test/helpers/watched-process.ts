// A server process a test started: the tail of its stderr (enough to explain a failed start, bounded for long runs),
// why it ended once it has, and a stop that asks politely before it insists.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WatchedProcess {
  /** The last `tailChars` characters the process wrote to stderr. */
  log(): string;
  /** "exited with CODE|SIGNAL" or "could not start: ..." once it ended; undefined while it runs. */
  ended(): string | undefined;
  /** SIGTERM, then SIGKILL if it is still there after `graceMs`; resolves once it is gone. */
  stop(graceMs: number): Promise<void>;
}

export function watchProcess(child: ChildProcess, tailChars: number): WatchedProcess {
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => (log = (log + chunk).slice(-tailChars)));
  let ended: string | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      ended = `exited with ${signal ?? code}`;
      resolve();
    });
    child.once('error', (error) => {
      ended = `could not start: ${error.message}`;
      resolve();
    });
  });
  return {
    log: () => log,
    ended: () => ended,
    async stop(graceMs) {
      if (ended !== undefined) return;
      child.kill('SIGTERM');
      await Promise.race([exit, sleep(graceMs)]);
      if (ended === undefined) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}
