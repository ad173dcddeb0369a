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

/** A whole number in [min, max]; the message names the setting and the range. */
export function parseBound(text: string, setting: string, min: number, max: number): number {
  const n = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new SettingsError(`${setting}: expected a whole number from ${min} to ${max}, got '${text}'`);
  return n;
}

export function parsePullHistory(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 10_000) throw new SettingsError(`BERTH_PULL_HISTORY: expected a number of pulls from 0 to 10000, got '${text}'`);
  return Number(text);
}

/** BERTH_REGISTRY_MIRROR_URL: an http(s) URL with an optional path prefix, no user info, query or fragment. */
export function parseMirrorUrl(url: string): URL {
  if (url.includes('@')) throw new SettingsError('BERTH_REGISTRY_MIRROR_URL: no user info in the URL; runtimes authenticate with a token');
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.search || parsed.hash || /\s|"/.test(url)) {
    throw new SettingsError(`BERTH_REGISTRY_MIRROR_URL: expected an http:// or https:// URL (with an optional path prefix, no query), got '${url}'`);
  }
  return parsed;
}

const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An age like `365d`, `12h`, `90m` or `30s`, in milliseconds; `0` is 0 (no limit, to its caller). */
export function parseAge(text: string, setting: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text);
  if (text !== '0' && !match) throw new SettingsError(`${setting}: expected an age like 365d, 12h, 90m or 30s (0: no limit), got '${text}'`);
  return match ? Number(match[1]) * DURATION_UNITS_MS[match[2]!]! : 0;
}
