// Where the CLI talks to: named contexts (URL, token, CA certificate file) in $XDG_CONFIG_HOME/berth/config.yaml
// (~/.config/berth/config.yaml), readable by its owner only since it holds tokens; BERTH_URL, BERTH_TOKEN and
// BERTH_CA_CERT override the chosen context.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import yaml from 'js-yaml';
import { UsageError } from './cli-error.js';

export interface Context {
  url: string;
  token?: string;
  'ca-cert'?: string;
}

export interface ContextsFile {
  'current-context'?: string;
  contexts: Record<string, Context>;
}

/** The Berth a command talks to. */
export interface Target {
  url: string;
  token?: string;
  caCertFile?: string;
  /** Where the URL came from, for messages (`context 'edge'`, `BERTH_URL`). */
  source: string;
  /** Where the token came from (`BERTH_TOKEN`, `context 'edge'`), for the message of a refused token. */
  tokenSource?: string;
}

export const DEFAULT_CONTEXT = 'default';

export function contextsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'berth', 'config.yaml');
}

export function readContexts(env: NodeJS.ProcessEnv = process.env): ContextsFile {
  const file = contextsPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (e) {
    throw new UsageError(`${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const value = (parsed ?? {}) as Partial<ContextsFile>;
  if (typeof value !== 'object' || (value.contexts !== undefined && (typeof value.contexts !== 'object' || value.contexts === null))) {
    throw new UsageError(`${file}: expected 'contexts' to map names to {url, token, ca-cert}`);
  }
  return { ...(value['current-context'] ? { 'current-context': String(value['current-context']) } : {}), contexts: value.contexts ?? {} };
}

/** Writes the file whole: a private temporary file renamed into place, so it is never seen half-written or open to others. */
export function writeContexts(contexts: ContextsFile, env: NodeJS.ProcessEnv = process.env): string {
  const file = contextsPath(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  const text = `# berth CLI contexts, written by 'berth login'. It holds API tokens: keep it private (mode 0600).\n${yaml.dump(contexts, { lineWidth: -1 })}`;
  writeFileSync(temporary, text, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
  return file;
}

/**
 * The Berth to talk to: the named context (or the current one), with BERTH_URL, BERTH_TOKEN and BERTH_CA_CERT over
 * it, and `--ca-cert` over all. No URL from anywhere is a usage error naming how to give one.
 */
export function chooseTarget(options: { context?: string; caCert?: string }, env: NodeJS.ProcessEnv = process.env): Target {
  const file = readContexts(env);
  const name = options.context ?? file['current-context'] ?? DEFAULT_CONTEXT;
  const context = file.contexts[name];
  if (options.context !== undefined && !context) {
    throw new UsageError(`no context '${options.context}' in ${contextsPath(env)}; known: ${Object.keys(file.contexts).join(', ') || 'none'}`);
  }
  const url = env.BERTH_URL || context?.url;
  if (!url) throw new UsageError(`no Berth to talk to: run 'berth login URL --token TOKEN', or set BERTH_URL and BERTH_TOKEN`);
  const token = env.BERTH_TOKEN || context?.token;
  const caCertFile = options.caCert ?? (env.BERTH_CA_CERT || context?.['ca-cert']);
  return {
    url: url.replace(/\/+$/, ''),
    ...(token ? { token, tokenSource: env.BERTH_TOKEN ? 'BERTH_TOKEN' : `context '${name}'` } : {}),
    ...(caCertFile ? { caCertFile } : {}),
    source: env.BERTH_URL ? 'BERTH_URL' : `context '${name}'`,
  };
}
