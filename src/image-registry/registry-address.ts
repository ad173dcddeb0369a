// What the contract's pattern for a registry address cannot say: port range, real IPv6 and IPv4 addresses.
import { isIP } from 'node:net';

/** Splits `host[:port]` (IPv6 bracketed); returns undefined when the text is not of that form. */
export function splitHostPort(address: string): { host: string; port?: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(address);
  if (!match) return undefined;
  return { host: match[1]!, ...(match[2] !== undefined ? { port: Number(match[2]) } : {}) };
}

/** Why `address` is not a usable registry address, or undefined when it is. The pattern has already matched. */
export function registryAddressProblem(address: string): string | undefined {
  const parts = splitHostPort(address);
  if (!parts) return 'must be a host with an optional port';
  if (parts.port !== undefined && (parts.port < 1 || parts.port > 65535)) return `port ${parts.port} is out of range 1-65535`;
  if (parts.host.startsWith('[')) {
    return isIP(parts.host.slice(1, -1)) === 6 ? undefined : `'${parts.host}' is not an IPv6 address`;
  }
  if (parts.host.length > 253) return 'host name is longer than 253 characters';
  // A name whose labels are all digits can only be meant as an IPv4 address.
  if (/^[\d.]+$/.test(parts.host) && isIP(parts.host) !== 4) return `'${parts.host}' is not an IPv4 address`;
  return undefined;
}
