// The compiled entry points (dist/, from `make build`; `make test` and `make bench` build first) that tests and
// benchmarks start as child processes: plain `node dist/...js`, as Berth runs in production, without a TypeScript
// loader compiling the sources again in every child (that took seconds per start on a loaded machine).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The V8 options Berth runs with, as README's production command gives them (also in package.json's start,
 * scripts/run.sh and scripts/run-site.sh). A semi-space of at most 2 MiB: V8 otherwise grows its young generation to
 * 2 x 16 MiB under load (a pull, a start-up) and never shrinks it again on a server. It keeps idle RSS under 80 MiB
 * and frees a pull's dead TLS buffers sooner, for ~10% more CPU per API request than V8's default (medians of 5 runs
 * of 40,000 GETs: 146 against 131 µs; 142 with 4 MiB).
 * WebAssembly kept at V8's baseline compiler (Liftoff), neither tiered up eagerly nor when hot (both flags are needed;
 * test/unit/node-options.test.ts checks it): undici parses HTTP with llhttp compiled to WebAssembly, and optimizing it
 * again took 11 MiB (two compiler zones of 7.1 and 3.6 MiB) in the middle of a fresh process's first pull, and kept
 * some: that first 1 GB pull peaked 33-38 MiB above idle with it, 24-27 without. For a blob the parser only counts the
 * body's bytes; a pull and `?site=` forwarding measured the same either way. A function Liftoff cannot compile still
 * goes to the optimizing compiler.
 * Two V8 worker threads (for the collector's and compilers' background work) where Node starts four on any machine:
 * Berth's heap is 20-30 MiB, and the two more cost 1 MiB of idle RSS (medians of 5 starts: 80.3 against 79.2 MiB).
 */
export const BERTH_NODE_OPTIONS = ['--max-semi-space-size=2', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering', '--v8-pool-size=2'];

const checked = new Set<string>();

/**
 * `dist/<sourceDir>/<entry>.js`, after checking that every `.ts` under `sourceDir` has a compiled `.js` at least as
 * new: a test must never run yesterday's build of today's sources.
 */
export function builtEntry(sourceDir: string, entry: string): string {
  if (!checked.has(sourceDir)) {
    const stale = readdirSync(join(PROJECT_ROOT, sourceDir), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => join(e.parentPath, e.name))
      .filter((source) => {
        const built = join(PROJECT_ROOT, 'dist', relative(PROJECT_ROOT, source)).replace(/\.ts$/, '.js');
        return !existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs;
      });
    if (stale.length > 0) {
      throw new Error(`dist/ is older than ${relative(PROJECT_ROOT, stale[0]!)}${stale.length > 1 ? ` and ${stale.length - 1} more` : ''}: run \`make build\` (make test builds first)`);
    }
    checked.add(sourceDir);
  }
  return join(PROJECT_ROOT, 'dist', sourceDir, `${entry}.js`);
}
