// Gives memory back once a burst of work is over. While Berth works (start-up, a run of requests, a pull), V8 grows
// its young generation for throughput, up to two 16 MiB semi-spaces, and keeps it: on a server Node sends V8 no idle
// notifications, so V8's own memory reducer never runs and an idle Berth would hold ~30 MiB it does not use.
// A CPU-time check every few seconds notices when work has stopped and runs one memory-reducing collection then:
// a few tens of milliseconds at a moment nothing is waiting, never during work.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

type CollectGarbage = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

export interface IdleMemoryOptions {
  /** How often CPU use is sampled. */
  intervalMs?: number;
  /** CPU time below this share of an interval counts as idle. */
  idleShare?: number;
}

/** Starts watching; the returned function stops it. The timer never keeps the process alive. */
export function releaseMemoryWhenIdle({ intervalMs = 2_000, idleShare = 0.02 }: IdleMemoryOptions = {}): () => void {
  // `gc` exists only in contexts made after --expose-gc is set; one small context is made for it, once.
  v8.setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as CollectGarbage;
  // Start-up itself was the first burst.
  let workedSinceCollection = true;
  let last = process.cpuUsage();
  const timer = setInterval(() => {
    const used = process.cpuUsage(last);
    last = process.cpuUsage();
    const idle = (used.user + used.system) / 1000 < intervalMs * idleShare;
    if (!idle) {
      workedSinceCollection = true;
      return;
    }
    if (!workedSinceCollection) return;
    workedSinceCollection = false;
    // 'last-resort' is the collection that also shrinks the young generation back to its smallest size.
    collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    // Its own CPU time must not read as work at the next check.
    last = process.cpuUsage();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
