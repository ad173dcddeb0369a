// `n`/`last` paging of tags/list and _catalog, and the RFC 5988 `Link: <...>; rel="next"` header that follows it.
import { RegistryError } from '../registry-error.js';

export interface PageRequest {
  limit: number;
  last?: string;
}

/** Without `n`, lists are returned whole up to this many entries, with a Link header past it. */
const defaultLimit = 10_000;
const maxLimit = 10_000;

export function parsePageRequest(query: URLSearchParams): PageRequest {
  const n = query.get('n');
  const last = query.get('last') ?? undefined;
  let limit = defaultLimit;
  if (n !== null) {
    if (!/^\d+$/.test(n)) throw new RegistryError('UNSUPPORTED', `n must be a non-negative integer`, { n: n.slice(0, 50) }, 400);
    // Returning fewer than n is allowed when a Link header says where the rest is.
    limit = Math.min(Number(n.length > 9 ? maxLimit : n), maxLimit);
  }
  return { limit, ...(last !== undefined ? { last } : {}) };
}

export const nextPageLink = (path: string, limit: number, last: string): string =>
  `<${path}?n=${limit}&last=${encodeURIComponent(last)}>; rel="next"`;
