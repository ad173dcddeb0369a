// ETag and If-Match / If-None-Match headers <-> store revisions (see store/preconditions.ts).
import type { Request } from 'express';
import type { Preconditions } from '../store/preconditions.js';

export const etagOf = (revision: number) => `"${revision}"`;

/**
 * Parses an entity-tag list. Strong tags `"N"` name revision N; weak tags only count where weak comparison is
 * allowed (If-None-Match); any other tag can never match, which is exactly how an unknown ETag must behave.
 */
function parseTags(header: string, weakAllowed: boolean): 'any' | number[] {
  if (header.trim() === '*') return 'any';
  return header.split(',').map((raw) => {
    const tag = raw.trim();
    const match = /^(W\/)?"(\d{1,15})"$/.exec(tag);
    if (!match || (match[1] && !weakAllowed)) return Number.NaN;
    return Number(match[2]);
  });
}

export function readPreconditions(req: Request): Preconditions | undefined {
  const ifMatch = req.get('if-match');
  const ifNoneMatch = req.get('if-none-match');
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  return {
    ...(ifMatch !== undefined ? { ifMatch: parseTags(ifMatch, false) } : {}),
    ...(ifNoneMatch !== undefined ? { ifNoneMatch: parseTags(ifNoneMatch, true) } : {}),
  };
}
