// `make bench`: runs every benchmark in turn (each prints its own table as it goes), then prints one table of every
// figure beside its goal and the peer it was measured against in the same run. A figure outside its goal is shown as
// such; nothing fails: benchmarks measure, tests judge. The machine's load is printed with each benchmark, as figures
// from a shared machine need it to be read.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLoad, meetsGoal, readFigures, type Figure } from './figures.js';

/** In this order: the footprint first, on a machine the other benchmarks have not warmed yet. */
const BENCHMARKS = ['startup', 'config-api', 'sites', 'pull', 'pull-through', 'list-images'];

const here = fileURLToPath(new URL('.', import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'berth-bench-summary-'));
const sections: { bench: string; figures: Figure[]; load: string; seconds: number; failed: boolean }[] = [];
try {
  for (const bench of BENCHMARKS) {
    const file = join(workDir, `${bench}.jsonl`);
    const load = machineLoad();
    const begun = Date.now();
    console.log(`\n== bench/${bench}.bench.ts (load ${load})`);
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${bench}.bench.ts`)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_FIGURES: file },
    });
    let figures: Figure[] = [];
    try {
      figures = readFigures(file);
    } catch {
      // No figures: the benchmark failed before reporting any; the table says so.
    }
    sections.push({ bench, figures, load: `${load} -> ${machineLoad()}`, seconds: (Date.now() - begun) / 1000, failed: run.status !== 0 });
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}

const value = (f: Figure) => `${f.value.toFixed(f.unit === 'x' ? 2 : f.unit === 'MiB' || f.unit === 'ms' ? 1 : 2)}${f.unit === 'x' ? 'x' : ` ${f.unit}`}`;
const goal = (f: Figure) => (f.goal ? `${f.goal.op === '>=' ? '>=' : '<='} ${f.goal.target}${f.unit === 'x' ? 'x' : ` ${f.unit}`}` : '-');
const verdict = (f: Figure) => ({ true: 'yes', false: 'NO', undefined: '' })[String(meetsGoal(f)) as 'true' | 'false' | 'undefined'];
const width = Math.max(...sections.flatMap((s) => s.figures.map((f) => f.name.length)), 40);

console.log(`\nBerth benchmarks, node ${process.version}, ${new Date().toISOString()} (load = 1/5/15-minute load averages, before -> after)\n`);
console.log(`${'figure'.padEnd(width)}  ${'measured'.padStart(11)}  ${'goal'.padStart(10)}  ${'met'.padStart(3)}  against (same run)`);
for (const section of sections) {
  console.log(`${`-- ${section.bench} (${section.seconds.toFixed(0)} s; load ${section.load})${section.failed ? ' FAILED: see its output above' : ''}`}`);
  for (const f of section.figures) {
    console.log(`${f.name.padEnd(width)}  ${value(f).padStart(11)}  ${goal(f).padStart(10)}  ${verdict(f).padStart(3)}  ${f.detail ?? ''}`);
  }
}
process.exitCode = sections.some((s) => s.failed) ? 1 : 0;
