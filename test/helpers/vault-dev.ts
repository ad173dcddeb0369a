// Test helper: starts vault-dev (the Vault-API-compatible secret store in vault-dev/) as a child
// process on a free loopback port and waits until it listens. Used by vault-dev's own tests and by
// any suite that needs a Vault; paths resolve from this file, so the caller's cwd does not matter.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { builtEntry, PROJECT_ROOT as REPO_ROOT } from './built.js';
import { assertNoSecretIn } from './secret-values.js';

/** Generous: a start on a loaded 2-core machine. Only a safety net, never a pacing device. */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export interface VaultDevOptions {
  /**
   * Dev mode: in memory, initialised and unsealed, root token ready. Default: true unless
   * `dataDir` is given.
   */
  dev?: boolean;
  /** Storage directory (non-dev mode). Default: a fresh temp dir, removed by stop(). */
  dataDir?: string;
  /** Dev mode root token (--dev-root-token-id). Default: the one vault-dev generates. */
  rootToken?: string;
  /** Listen address; default 127.0.0.1:0 (a free port). */
  listen?: string;
  /** Extra command-line arguments. */
  args?: string[];
  /** Extra environment variables (VAULT_DEV_ROOT_TOKEN_ID is cleared unless given here). */
  env?: Record<string, string>;
}

export interface VaultDevInstance {
  /** e.g. http://127.0.0.1:41234 -- the VAULT_ADDR to use. */
  addr: string;
  /** The root token in dev mode; '' otherwise (initialise through sys/init). */
  rootToken: string;
  /** The storage directory; '' in dev mode. */
  dataDir: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /**
   * SIGTERM, then waits for exit (SIGKILL if it hangs); removes a temp dataDir the helper created. Fails if its whole
   * output holds a registered secret value (see secret-values.ts): the store holds secrets, it must never log one.
   */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) without waiting. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  process: ChildProcess;
}

export async function startVaultDev(opts: VaultDevOptions = {}): Promise<VaultDevInstance> {
  const dev = opts.dev ?? opts.dataDir === undefined;
  let dataDir = '';
  let ownsDataDir = false;
  if (!dev) {
    dataDir = opts.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'vault-dev-data-')));
    ownsDataDir = opts.dataDir === undefined;
  }

  const args = [builtEntry('vault-dev/src', 'main'), 'server', `--listen=${opts.listen ?? '127.0.0.1:0'}`];
  if (dev) args.push('--dev');
  if (dev && opts.rootToken) args.push(`--dev-root-token-id=${opts.rootToken}`);
  if (!dev) args.push(`--data-dir=${dataDir}`);
  args.push(...(opts.args ?? []));

  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, VAULT_DEV_ROOT_TOKEN_ID: '', ...(opts.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });

  const addr = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vault-dev did not start listening within ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /vault-dev listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`vault-dev exited (${code}) before listening:\n${output}`));
    });
  });

  const rootToken = dev ? (opts.rootToken ?? /^Root Token: (\S+)$/m.exec(output)?.[1] ?? '') : '';

  return {
    addr,
    rootToken,
    dataDir,
    output: () => output,
    process: child,
    exited,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => {
      child.kill(signal);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
      // In dev mode vault-dev announces its own root token once, as `vault server -dev` does: that line is by design
      // (a test may watch the token, e.g. to catch Berth logging its VAULT_TOKEN); every other byte is checked.
      const announced = rootToken === '' ? output : output.replace(`\nRoot Token: ${rootToken}\n`, '\n');
      assertNoSecretIn(announced, `the output of vault-dev ${child.pid}`);
    },
  };
}
