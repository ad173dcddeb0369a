// Settings: the environment and matching command-line flags, read once into one typed, validated object.
// A malformed or unknown setting is a SettingsError, which main.ts prints as one line before exiting.
import { parseArgs } from 'node:util';
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import type { SecretStoreSettings } from './secrets/secret-store.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Settings {
  listen: ListenAddress;
  dataDir: string;
  adminToken: string | undefined;
  logLevel: LogLevel;
  /** Largest accepted /v1 request body in bytes. */
  bodyLimitBytes: number;
  /** Whether the site registry (/v2) serves GET and HEAD without credentials, for site-local runtimes. */
  registryAnonymousPull: boolean;
  /** The Vault-compatible secret store (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT); absent when VAULT_ADDR is unset. */
  secretStore: SecretStoreSettings | undefined;
}

export class SettingsError extends Error {}

/** Each setting: its environment variable, its flag, and how to parse it. */
const SETTINGS = {
  listen: { env: 'BERTH_LISTEN', flag: 'listen', fallback: '127.0.0.1:4646' },
  dataDir: { env: 'BERTH_DATA_DIR', flag: 'data-dir', fallback: './data' },
  adminToken: { env: 'BERTH_ADMIN_TOKEN', flag: 'admin-token', fallback: undefined },
  logLevel: { env: 'BERTH_LOG_LEVEL', flag: 'log-level', fallback: 'info' },
  bodyLimit: { env: 'BERTH_BODY_LIMIT', flag: 'body-limit', fallback: '1048576' },
  anonymousPull: { env: 'BERTH_REGISTRY_ANONYMOUS_PULL', flag: 'registry-anonymous-pull', fallback: 'false' },
} as const;

export function parseListenAddress(text: string, setting = 'BERTH_LISTEN'): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || !host || port > 65535) {
    throw new SettingsError(`${setting}: expected HOST:PORT or [IPV6]:PORT, got '${text}'`);
  }
  if (match[1] !== undefined && isIP(host) !== 6) throw new SettingsError(`${setting}: '${host}' is not an IPv6 address`);
  return { host, port };
}

function parseLogLevel(text: string): LogLevel {
  const level = LOG_LEVELS.find((l) => l === text);
  if (!level) throw new SettingsError(`BERTH_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got '${text}'`);
  return level;
}

function parseBodyLimit(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1024) {
    throw new SettingsError(`BERTH_BODY_LIMIT: expected a number of bytes of at least 1024, got '${text}'`);
  }
  return Number(text);
}

function parseBoolean(text: string, setting: string): boolean {
  if (text === 'true' || text === 'false') return text === 'true';
  throw new SettingsError(`${setting}: expected true or false, got '${text}'`);
}

/** The secret store is configured with the variables Vault's own tools use. */
function readSecretStore(env: NodeJS.ProcessEnv): SecretStoreSettings | undefined {
  const address = env.VAULT_ADDR;
  if (!address) return undefined;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new SettingsError(`VAULT_ADDR: expected an http:// or https:// URL, got '${address}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SettingsError(`VAULT_ADDR: expected an http:// or https:// URL, got '${address}'`);
  const token = env.VAULT_TOKEN;
  if (!token) throw new SettingsError('VAULT_TOKEN: required when VAULT_ADDR is set');
  let caCertPem: string | undefined;
  if (env.VAULT_CACERT) {
    try {
      caCertPem = readFileSync(env.VAULT_CACERT, 'utf8');
    } catch (e) {
      throw new SettingsError(`VAULT_CACERT: cannot read ${env.VAULT_CACERT}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return { address: address.replace(/\/+$/, ''), token, ...(caCertPem ? { caCertPem } : {}) };
}

export function readSettings(argv: string[], env: NodeJS.ProcessEnv): Settings {
  const known = new Set<string>(Object.values(SETTINGS).map((s) => s.env));
  const unknown = Object.keys(env).filter((name) => name.startsWith('BERTH_') && !known.has(name));
  if (unknown.length > 0) throw new SettingsError(`unknown setting ${unknown.join(', ')} (known: ${[...known].join(', ')})`);

  let flags: Record<string, string | undefined>;
  try {
    const options = Object.fromEntries(Object.values(SETTINGS).map((s) => [s.flag, { type: 'string' as const }]));
    flags = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (e) {
    throw new SettingsError((e as Error).message);
  }
  const value = (s: (typeof SETTINGS)[keyof typeof SETTINGS]): string | undefined => flags[s.flag] ?? env[s.env] ?? s.fallback;

  const adminToken = value(SETTINGS.adminToken);
  if (adminToken !== undefined && !/^[\x21-\x7e]{16,256}$/.test(adminToken)) {
    throw new SettingsError('BERTH_ADMIN_TOKEN: expected 16 to 256 printable characters without spaces');
  }
  const dataDir = value(SETTINGS.dataDir) ?? '';
  if (dataDir.trim() === '') throw new SettingsError('BERTH_DATA_DIR: must not be empty');

  return {
    listen: parseListenAddress(value(SETTINGS.listen) ?? ''),
    dataDir,
    adminToken,
    logLevel: parseLogLevel(value(SETTINGS.logLevel) ?? ''),
    bodyLimitBytes: parseBodyLimit(value(SETTINGS.bodyLimit) ?? ''),
    registryAnonymousPull: parseBoolean(value(SETTINGS.anonymousPull) ?? '', SETTINGS.anonymousPull.env),
    secretStore: readSecretStore(env),
  };
}
