// The typed error of a change feed asked to resume inside history the store no longer keeps (etcd compacted it).
// Resuming later would silently skip changes, so the follower gets this instead and must start over from a full read.
import { BerthError } from '../errors.js';

export class RevisionCompactedError extends BerthError {
  constructor(
    /** The revision the caller wanted the changes after. */
    readonly afterRevision: number,
    /** The oldest revision the store still keeps; a full read followed from there works again. */
    readonly compactRevision: number,
  ) {
    super(
      'conflict',
      `the changes after revision ${afterRevision} are no longer kept: the store compacted its history up to revision ${compactRevision}; ` +
        'read the whole configuration again and follow its changes from the revision of that read',
      { reason: 'revision-compacted', 'after-revision': afterRevision, 'compact-revision': compactRevision },
    );
    this.name = 'RevisionCompactedError';
  }
}

export const isRevisionCompacted = (e: unknown): e is RevisionCompactedError => e instanceof RevisionCompactedError;
