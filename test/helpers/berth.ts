// Starts a real Berth process (the built dist/src/main.js) on a free loopback port, as tests and benchmarks need it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertNoSecretIn } from './secret-values.js';
import { BERTH_NODE_OPTIONS, builtEntry, PROJECT_ROOT } from './built.js';

export { PROJECT_ROOT };

/**
 * A safety net, never a pacing device: Berth answers in well under a second on an idle machine; this covers a 2-core
 * machine running another whole suite beside this one.
 */
const START_TIMEOUT_MS = 60_000;

export interface BerthProcess {
  url: string;
  adminToken: string;
  dataDir: string;
  process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far (log lines included). */
  output(): string;
  /** SIGTERM, then wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
}

export interface BerthOptions {
  dataDir?: string;
  /** Omit to let Berth generate one (its value is then read from the start-up banner). */
  adminToken?: string | null;
  env?: Record<string, string>;
  args?: string[];
}

/** The environment without any BERTH_ variable the test runner itself may have. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_') && !k.startsWith('VAULT_')));
  return { ...env, ...extra };
}

/** Spawns Berth (`dist/src/main.js`) with `args` and `env`; for start-up error tests. */
export function spawnBerth(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [...BERTH_NODE_OPTIONS, builtEntry('src', 'main'), ...args], { env, cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function startBerth(options: BerthOptions = {}): Promise<BerthProcess> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'berth-data-'));
  const given = options.adminToken === undefined ? `test-admin-${Math.random().toString(36).slice(2)}-token` : options.adminToken;
  const env = cleanEnv({
    BERTH_LISTEN: '127.0.0.1:0',
    BERTH_DATA_DIR: dataDir,
    BERTH_LOG_LEVEL: 'info',
    ...(given ? { BERTH_ADMIN_TOKEN: given } : {}),
    ...options.env,
  });
  const child = spawnBerth(options.args ?? [], env);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`berth did not start within ${START_TIMEOUT_MS / 1000} s:\n${output}`)), START_TIMEOUT_MS);
    const check = () => {
      const match = /berth listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`berth exited with ${code} before listening:\n${output}`));
    });
  });
  const generated = /generated admin token[^:]*: (\S+)/.exec(output)?.[1];
  return {
    url,
    adminToken: given || generated || '',
    dataDir,
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exitOf(child);
      assertNoSecretIn(output, `the log of the Berth process ${child.pid}`);
      return code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exitOf(child);
      assertNoSecretIn(output, `the log of the Berth process ${child.pid}`);
    },
  };
}
