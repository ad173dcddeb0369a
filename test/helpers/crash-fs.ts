// A mount of crashfs.py: a file system that loses, at a simulated power loss, everything not fsync'd (file bytes)
// or whose directory was not fsync'd (names). For tests that an acknowledged write survives losing the machine,
// which a killed process alone cannot show: the page cache survives a kill -9.
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CRASHFS = fileURLToPath(new URL('./crashfs.py', import.meta.url));
/** Debian's interpreter, where python3-fusepy lives (a python3 first on PATH may be another one). */
const PYTHON = '/usr/bin/python3';

export interface CrashFs {
  /** Where the file system is mounted. */
  mountPoint: string;
  /** Loses power: writes what was durable into a fresh directory (returned) and fails every operation from now on. */
  crash(): Promise<string>;
  /** Unmounts (lazily: processes still holding files get errors) and waits for the file system process to end. */
  unmount(): Promise<void>;
}

/** Mounts a crash file system under `workDir`, starting from the files in `initialDir` (all counted as durable). */
export async function mountCrashFs(workDir: string, initialDir: string): Promise<CrashFs> {
  const mountPoint = mkdtempSync(join(workDir, 'mnt-'));
  const output = join(workDir, `durable-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(output);
  const child: ChildProcess = spawn(PYTHON, [CRASHFS, mountPoint, initialDir, output], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<{ line: string; resolve: () => void }> = [];
  lines.on('line', (line) => {
    const at = waiting.findIndex((w) => w.line === line);
    if (at >= 0) waiting.splice(at, 1)[0]!.resolve();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const expect = (line: string) =>
    Promise.race([
      new Promise<void>((resolve) => waiting.push({ line, resolve })),
      exited.then((code) => assert.fail(`crashfs exited (${code}) before '${line}':\n${stderr}`)),
    ]);

  await expect('ready');
  let crashed = false;
  return {
    mountPoint,
    async crash() {
      assert.ok(!crashed, 'crashed once already');
      crashed = true;
      const done = expect('crashed');
      child.stdin!.write('crash\n');
      await done;
      return output;
    },
    async unmount() {
      execFileSync('umount', ['-l', mountPoint]);
      await exited;
    },
  };
}
