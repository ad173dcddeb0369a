// How one setting's text is read: whole numbers, booleans, log levels, listen addresses, etcd endpoints and PEM files,
// each refusal a SettingsError naming the setting and what it expected (never the value of a credential).
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';

/** A malformed or unknown setting; main.ts prints it as one line before exiting. */
export class SettingsError extends Error {}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListenAddress(text: string, setting = 'BERTH_LISTEN'): ListenAddress {
  // No whitespace in a host name: 'a b:80' is a typo to report now, not a lookup failure at listen time.
  const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || !host || port > 65535) {
    throw new SettingsError(`${setting}: expected HOST:PORT or [IPV6]:PORT, got '${text}'`);
  }
  if (match[1] !== undefined && isIP(host) !== 6) throw new SettingsError(`${setting}: '${host}' is not an IPv6 address`);
  return { host, port };
}

export function parseLogLevel(text: string): LogLevel {
  const level = LOG_LEVELS.find((l) => l === text);
  if (!level) throw new SettingsError(`BERTH_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got '${text}'`);
  return level;
}

export function parseBodyLimit(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1024) {
    throw new SettingsError(`BERTH_BODY_LIMIT: expected a number of bytes of at least 1024, got '${text}'`);
  }
  return Number(text);
}

/** A whole number from `min` (default 0) to `max`. */
export function parseCount(text: string, setting: string, max: number, what: string, min = 0): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) throw new SettingsError(`${setting}: expected ${what} from ${min} to ${max}, got '${text}'`);
  return Number(text);
}

export function parseBoolean(text: string, setting: string): boolean {
  if (text === 'true' || text === 'false') return text === 'true';
  throw new SettingsError(`${setting}: expected true or false, got '${text}'`);
}

/** `http(s)://HOST:PORT` with an explicit port, no path, no user info (credentials have their own settings). */
const ETCD_ENDPOINT = /^(https?):\/\/(?:\[[0-9a-fA-F:.]+\]|[^\s:/?#@[\]]+):(\d{1,5})\/?$/;

export function parseEtcdEndpoints(text: string): string[] {
  const endpoints = text.split(',').map((e) => e.trim());
  const schemes = new Set<string>();
  for (const endpoint of endpoints) {
    // Never echo what looks like user info: it may hold a password.
    if (endpoint.includes('@')) throw new SettingsError('BERTH_ETCD_ENDPOINTS: no credentials in endpoint URLs; use BERTH_ETCD_USERNAME and BERTH_ETCD_PASSWORD');
    const match = ETCD_ENDPOINT.exec(endpoint);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw new SettingsError(`BERTH_ETCD_ENDPOINTS: expected comma-separated http(s)://HOST:PORT URLs, got '${endpoint}'`);
    }
    schemes.add(match[1]!);
  }
  if (schemes.size > 1) throw new SettingsError('BERTH_ETCD_ENDPOINTS: expected all http:// or all https://, not a mix');
  return endpoints.map((e) => e.replace(/\/$/, ''));
}

export function readPemFile(setting: string, file: string, marker: RegExp): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SettingsError(`${setting}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (!marker.test(pem)) throw new SettingsError(`${setting}: ${file} holds no PEM ${setting.endsWith('KEY') ? 'private key' : 'certificate'}`);
  return pem;
}
