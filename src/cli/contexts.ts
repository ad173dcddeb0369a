// Where the CLI talks to: named contexts (URL, token or single sign-on, CA certificate file) in
// $XDG_CONFIG_HOME/berth/config.yaml (~/.config/berth/config.yaml), readable by its owner only since it holds tokens;
// the tokens of a single sign-on are in a session file per context beside it (sso/<context>.json). BERTH_URL,
// BERTH_TOKEN and BERTH_CA_CERT override the chosen context.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import yaml from 'js-yaml';
import { UsageError } from './cli-error.js';

export interface Context {
  url: string;
  token?: string;
  'ca-cert'?: string;
  /** Signed on with `berth login URL --sso`: the tokens are in the context's session file (sessionPath). */
  sso?: SsoContext;
}

export interface SsoContext {
  /** The CA certificate (PEM file) of the identity provider's TLS, needed at every refresh; the session file has none. */
  'idp-ca-cert'?: string;
}

/** How a command signs its requests with a context's single sign-on. */
export interface SsoCredentials {
  sessionFile: string;
  idpCaCertFile?: string;
  /** The context's name, for messages. */
  context: string;
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
  /** Single sign-on instead of a token (a context logged in with --sso, and no BERTH_TOKEN over it). */
  sso?: SsoCredentials;
}

export const DEFAULT_CONTEXT = 'default';

export function contextsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'berth', 'config.yaml');
}

/**
 * The session file of a context's single sign-on, beside the contexts file; the name is percent-encoded so any
 * context name is one file name.
 */
export function sessionPath(context: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(dirname(contextsPath(env)), 'sso', `${encodeURIComponent(context)}.json`);
}

/** The PEM text of a CA certificate file named by `flag` (or by the context that keeps it). */
export function readCaCertificate(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
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
    throw new UsageError(`${file}: expected 'contexts' to map names to {url, token, ca-cert, sso}`);
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
 * it, and `--ca-cert` over all. A context's single sign-on is used unless BERTH_TOKEN is set. No URL from anywhere
 * is a usage error naming how to give one.
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
  const sso = !env.BERTH_TOKEN && context?.sso ? context.sso : undefined;
  const token = env.BERTH_TOKEN || (sso ? undefined : context?.token);
  const caCertFile = options.caCert ?? (env.BERTH_CA_CERT || context?.['ca-cert']);
  return {
    url: url.replace(/\/+$/, ''),
    ...(token ? { token, tokenSource: env.BERTH_TOKEN ? 'BERTH_TOKEN' : `context '${name}'` } : {}),
    ...(sso ? { sso: { sessionFile: sessionPath(name, env), ...(sso['idp-ca-cert'] ? { idpCaCertFile: sso['idp-ca-cert'] } : {}), context: name } } : {}),
    ...(caCertFile ? { caCertFile } : {}),
    source: env.BERTH_URL ? 'BERTH_URL' : `context '${name}'`,
  };
}
