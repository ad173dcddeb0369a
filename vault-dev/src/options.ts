// Command-line flags of `vault-dev [server] ...`, the subset of `vault server` flags vault-dev
// takes plus --listen and --data-dir, and the few settings of Vault's config file it has (as flags
// of the same names). Flags may use one dash or two, `--flag value` or `--flag=value`.

import { parseDurationSeconds } from './duration.js';
import { VAULT_MAX_LEASE_TTL_SECONDS } from './lease-ttl.js';
import { VAULT_CONNECTION_TIMEOUTS } from './list-method.js';

export interface ServerOptions {
  listenHost: string;
  listenPort: number;
  dataDir?: string;
  dev: boolean;
  devRootTokenId?: string;
  /** Seconds (Vault's max_lease_ttl). */
  maxLeaseTtl: number;
  /** Milliseconds (Vault's listener http_read_header_timeout and http_read_timeout). */
  readHeaderTimeoutMs: number;
  readTimeoutMs: number;
}

/** A bad command line: reported as one line on stderr, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `Usage: vault-dev [server] [--dev [--dev-root-token-id=<token>]] [--data-dir=<dir>] [--listen=<host:port>]
                 [--max-lease-ttl=<duration>] [--http-read-header-timeout=<duration>] [--http-read-timeout=<duration>]

  --listen                     Address to listen on (default 127.0.0.1:8200; [::1]:8200 for IPv6; port 0 picks a free port)
  --data-dir                   Directory for the encrypted storage (required without --dev)
  --dev                        Development mode: in-memory storage, initialised and unsealed, one unseal key
  --dev-root-token-id          Root token to use in dev mode (default: $VAULT_DEV_ROOT_TOKEN_ID, else generated)
  --max-lease-ttl              Longest a token may live after its creation, renewals included (default 768h)
  --http-read-header-timeout   Time for a request head to arrive, else the connection is closed (default 10s)
  --http-read-timeout          Time for a whole request to arrive (default 30s)
`;

const STRING_FLAGS = new Set([
  'listen',
  'data-dir',
  'dev-root-token-id',
  'max-lease-ttl',
  'http-read-header-timeout',
  'http-read-timeout',
]);
const BOOLEAN_FLAGS = new Set(['dev', 'help']);

export function parseServerOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>) {
  const strings = new Map<string, string>();
  const booleans = new Map<string, boolean>();
  let sawSubcommand = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      if (arg === 'server' && !sawSubcommand && strings.size === 0 && booleans.size === 0) {
        sawSubcommand = true;
        continue;
      }
      throw new UsageError(`unexpected argument: ${arg}`);
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const inlineValue = eq === -1 ? undefined : body.slice(eq + 1);
    if (name === 'h') {
      booleans.set('help', true);
    } else if (STRING_FLAGS.has(name)) {
      let value = inlineValue;
      if (value === undefined) {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('-')) throw new UsageError(`flag needs an argument: -${name}`);
        value = next;
        i++;
      }
      strings.set(name, value);
    } else if (BOOLEAN_FLAGS.has(name)) {
      if (inlineValue === undefined) booleans.set(name, true);
      else if (/^(true|1)$/i.test(inlineValue)) booleans.set(name, true);
      else if (/^(false|0)$/i.test(inlineValue)) booleans.set(name, false);
      else throw new UsageError(`invalid boolean value "${inlineValue}" for -${name}`);
    } else {
      throw new UsageError(`flag provided but not defined: -${name}`);
    }
  }

  if (booleans.get('help')) return 'help' as const;

  const dev = booleans.get('dev') ?? false;
  const dataDir = strings.get('data-dir');
  if (dataDir === '') throw new UsageError('-data-dir must not be empty');
  if (dev && dataDir !== undefined) throw new UsageError('-dev keeps data in memory; it cannot be combined with -data-dir');
  if (!dev && dataDir === undefined) throw new UsageError('-data-dir is required unless -dev is given');
  const flagToken = strings.get('dev-root-token-id');
  if (flagToken !== undefined && !dev) throw new UsageError('-dev-root-token-id requires -dev');
  const devRootTokenId = flagToken ?? (dev ? env['VAULT_DEV_ROOT_TOKEN_ID'] : undefined);
  const { host, port } = parseListenAddress(strings.get('listen') ?? '127.0.0.1:8200');

  const options: ServerOptions = {
    listenHost: host,
    listenPort: port,
    dev,
    maxLeaseTtl: durationFlag(strings, 'max-lease-ttl', VAULT_MAX_LEASE_TTL_SECONDS),
    readHeaderTimeoutMs: durationFlag(strings, 'http-read-header-timeout', VAULT_CONNECTION_TIMEOUTS.readHeaderMs / 1000) * 1000,
    readTimeoutMs: durationFlag(strings, 'http-read-timeout', VAULT_CONNECTION_TIMEOUTS.readMs / 1000) * 1000,
  };
  if (dataDir !== undefined) options.dataDir = dataDir;
  if (devRootTokenId) options.devRootTokenId = devRootTokenId;
  return options;
}

/** A duration flag in whole seconds (`768h`, `10s`, `30`); it must be at least one second. */
function durationFlag(strings: ReadonlyMap<string, string>, name: string, fallback: number): number {
  const text = strings.get(name);
  if (text === undefined) return fallback;
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined || seconds < 1) {
    throw new UsageError(`invalid -${name} "${text}": expected a duration of at least 1s, such as 768h or 10s`);
  }
  return seconds;
}

/** `host:port` or `[ipv6]:port`; port 0 means "any free port". */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]\s]+):(\d+)$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new UsageError(`invalid -listen address "${text}": expected host:port or [ipv6]:port`);
  }
  return { host: match[1]!, port };
}
