// How long a token may live, by Vault's rules (sdk/framework CalculateTTL, without periodic tokens):
// the TTL asked for, else the token's own, else the default; never past the token's creation time
// plus the max lease TTL (or its explicit max TTL, when shorter).

import { formatGoDuration } from './duration.js';
import { badRequest } from './vault-error.js';

/** Vault's system default and max lease TTL: 768 h (32 days). */
export const VAULT_MAX_LEASE_TTL_SECONDS = 768 * 3600;

export interface LeaseLimits {
  /** Seconds; no token lives longer than this after its creation. */
  maxLeaseTtl: number;
  /** Seconds; the TTL of a token created or renewed without one. Never above maxLeaseTtl. */
  defaultLeaseTtl: number;
}

export function leaseLimits(maxLeaseTtl: number): LeaseLimits {
  return { maxLeaseTtl, defaultLeaseTtl: Math.min(VAULT_MAX_LEASE_TTL_SECONDS, maxLeaseTtl) };
}

export interface TtlRequest {
  /** Seconds asked for by a renewal (its increment); 0 for none. */
  increment: number;
  /** Seconds the token was created with (or asks for at creation); 0 for none. */
  tokenTtl: number;
  /** Seconds; 0 for none. */
  explicitMaxTtl: number;
  /** Unix milliseconds when the token was (or is being) created. */
  issuedAt: number;
  now: number;
}

export interface GrantedTtl {
  /** Seconds, always more than 0. */
  ttl: number;
  warnings: string[];
}

export function calculateTtl(limits: LeaseLimits, request: TtlRequest): GrantedTtl {
  const { increment, tokenTtl, explicitMaxTtl, issuedAt, now } = request;
  const maxTtl = explicitMaxTtl > 0 ? Math.min(explicitMaxTtl, limits.maxLeaseTtl) : limits.maxLeaseTtl;
  const wanted = increment > 0 ? increment : tokenTtl > 0 ? tokenTtl : limits.defaultLeaseTtl;
  const left = Math.floor((issuedAt + maxTtl * 1000 - now) / 1000);
  if (left <= 0) throw badRequest('past the max TTL, cannot renew');
  if (wanted <= left) return { ttl: wanted, warnings: [] };
  return {
    ttl: left,
    warnings: [
      `TTL of "${formatGoDuration(wanted)}" exceeded the effective max_ttl of "${formatGoDuration(left)}"; TTL value is capped accordingly`,
    ],
  };
}
