// Gives memory back once work has stopped. While Berth works (start-up, a run of requests, a pull), V8 grows its
// young generation for throughput, up to two 16 MiB semi-spaces, and keeps it: on a server Node sends V8 no idle
// notifications, so V8's own memory reducer never runs and an idle Berth would hold ~30 MiB it does not use.
// A CPU-time check every few seconds notices when work has stopped and then runs one memory-reducing collection:
// a few tens of milliseconds at a moment nothing is waiting, never during work.
//
// The collection also drops the compiled code of functions that did not run lately, so the next burst of requests
// compiles it again. Right after start-up that is what we want (start-up code never runs again); after later work
// Berth first waits until it has been quiet for a while, so requests a few seconds apart keep running warm.
import { collectAllGarbage, prepareCollector } from './gc.js';

export interface IdleMemoryOptions {
  /** How often CPU use is sampled. */
  intervalMs?: number;
  /** CPU time below this share of an interval counts as quiet. */
  quietShare?: number;
  /** After work other than start-up, how long Berth must have been quiet before it collects. */
  quietAfterWorkMs?: number;
}

/** Starts watching; the returned function stops it. The timer never keeps the process alive. */
export function releaseMemoryWhenIdle({ intervalMs = 2_000, quietShare = 0.02, quietAfterWorkMs = 10_000 }: IdleMemoryOptions = {}): () => void {
  prepareCollector();
  // Start-up itself was the first work, and it is collected after the first quiet interval.
  let workedSinceCollection = true;
  let quietFor = quietAfterWorkMs;
  let last = process.cpuUsage();
  const timer = setInterval(() => {
    const used = process.cpuUsage(last);
    last = process.cpuUsage();
    if ((used.user + used.system) / 1000 >= intervalMs * quietShare) {
      workedSinceCollection = true;
      quietFor = 0;
      return;
    }
    quietFor += intervalMs;
    if (!workedSinceCollection || quietFor < quietAfterWorkMs) return;
    workedSinceCollection = false;
    collectAllGarbage();
    // Its own CPU time must not read as work at the next check.
    last = process.cpuUsage();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
