// What a benchmark reports to `make bench`'s summary table (bench/summary.ts): each figure with the goal it is read
// against and the peer it was measured beside in the same run. Figures are written as JSON lines to $BENCH_FIGURES
// when the summary runs the benchmark; run on its own, a benchmark prints only its own table. Nothing here passes or
// fails: benchmarks measure, tests judge behaviour.
import { appendFileSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

export interface Goal {
  /** The figure meets the goal when `value <op> target`. */
  op: '>=' | '<=';
  target: number;
}

export interface Figure {
  /** What was measured, e.g. `GET one registry: Berth / bare Express rps`. */
  name: string;
  value: number;
  /** `x` for ratios, `s`, `ms`, `MiB`. */
  unit: string;
  /** Absent for figures shown for context. */
  goal?: Goal;
  /** The peer and the raw numbers behind a ratio, e.g. `Berth 6,210 rps, bare Express 9,870 rps`. */
  detail?: string;
}

export function reportFigure(figure: Figure): void {
  const file = process.env.BENCH_FIGURES;
  if (file) appendFileSync(file, `${JSON.stringify(figure)}\n`);
}

export function readFigures(file: string): Figure[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Figure);
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export const meetsGoal = (figure: Figure): boolean | undefined =>
  figure.goal && (figure.goal.op === '>=' ? figure.value >= figure.goal.target : figure.value <= figure.goal.target);

/** The machine's load averages (1, 5, 15 min), to print beside figures measured on a shared machine. */
export const machineLoad = (): string => loadavg().map((l) => l.toFixed(1)).join(' / ');

/** Resident set size of a process, from /proc (kB there); `VmHWM` is its peak since start or the last reset. */
export function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/**
 * `next`, a later step of a bench's set-up, with `started` (a server already running, such as a docker-registry)
 * stopped first if it fails: the step that fails would otherwise leave that server running after the bench has exited.
 */
export async function orStop<T>(started: { stop(): Promise<unknown> }, next: Promise<T>): Promise<T> {
  try {
    return await next;
  } catch (e) {
    await started.stop();
    throw e;
  }
}
