// Conditional requests on config objects: an object's ETag is its store revision. If-Match / If-None-Match
// are checked against the entry read, and writes then compare-and-set on that revision.
import { preconditionFailed } from '../errors.js';

/** `any` is `*`; a list holds the revisions named by strong ETags (anything else can never match). */
export interface Preconditions {
  ifMatch?: 'any' | number[];
  ifNoneMatch?: 'any' | number[];
}

/** `revision` is the object's current revision, undefined when it does not exist. */
const matches = (condition: 'any' | number[], revision: number | undefined) =>
  revision !== undefined && (condition === 'any' || condition.includes(revision));

/** Throws `precondition-failed` when the object at `revision` does not satisfy the preconditions. */
export function checkPreconditions(what: string, revision: number | undefined, p: Preconditions | undefined): void {
  if (!p) return;
  if (p.ifMatch && !matches(p.ifMatch, revision)) {
    throw preconditionFailed(revision !== undefined ? `${what} has changed: it is at revision ${revision}` : `${what} does not exist`);
  }
  if (p.ifNoneMatch && matches(p.ifNoneMatch, revision)) {
    throw preconditionFailed(p.ifNoneMatch === 'any' ? `${what} already exists` : `${what} is still at revision ${revision}`);
  }
}

/** For a read: If-None-Match says the client's copy is current (answer 304). */
export const isNotModified = (revision: number, p: Preconditions | undefined) => p?.ifNoneMatch !== undefined && matches(p.ifNoneMatch, revision);
