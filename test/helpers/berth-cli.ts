// The berth CLI as the tests run it, from the build (dist/src/cli/main.js, what package.json's `bin` names): a `berth`
// command on a private PATH for a shell in tmux (test/helpers/tmux.ts), and a subprocess whose exit code, stdout and
// stderr come apart (what a script sees).
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtEntry } from './built.js';
import { assertNoSecretIn } from './secret-values.js';

/** The CLI's compiled entry, by its full path: the CLI runs in other working directories than the project's. */
const MAIN = builtEntry('src', 'cli/main');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Writes `<home>/bin/berth`, running the built CLI; put `<home>/bin` first on the shell's PATH. */
export function installBerthCommand(home: string): void {
  mkdirSync(join(home, 'bin'), { recursive: true });
  writeFileSync(join(home, 'bin', 'berth'), `#!/bin/sh\nexec "${process.execPath}" "${MAIN}" "$@"\n`);
  chmodSync(join(home, 'bin', 'berth'), 0o755);
}

export interface CliRunOptions {
  /** The whole environment of the process. */
  env: Record<string, string>;
  cwd: string;
  stdin?: string;
  /** Sees standard error as it arrives (the code of a device login, while the command still waits). */
  onStderr?: (textSoFar: string) => void;
}

/** `berth ARGS` as a script runs it; fails if its output holds a secret the leak watch knows (secret-values.ts). */
export function runBerthCli(args: string[], options: CliRunOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: options.env, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        assertNoSecretIn(stdout, `the standard output of berth ${args[0] ?? ''} (process ${child.pid})`);
        assertNoSecretIn(stderr, `the standard error of berth ${args[0] ?? ''} (process ${child.pid})`);
      } catch (leak) {
        return reject(leak as Error);
      }
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}
