// What a WriteCondition means, shared by every ConfigStore engine: each reads the key's current revision its
// own way (in a transaction), then asks this one function whether the write may go ahead.
import { alreadyExists, notFound, preconditionFailed } from '../errors.js';
import type { WriteCondition } from './config-store.js';

/** `currentRevision` is the key's mod revision, undefined when the key is absent. Throws the typed error. */
export function checkWriteCondition(key: string, currentRevision: number | undefined, condition: WriteCondition | undefined): void {
  if (!condition) return;
  switch (condition.kind) {
    case 'absent':
      if (currentRevision !== undefined) throw alreadyExists(`${key} already exists`);
      return;
    case 'present':
      if (currentRevision === undefined) throw notFound(`${key} does not exist`);
      return;
    case 'mod-revision':
      // RFC 9110: If-Match fails when there is no current representation.
      if (currentRevision === undefined) throw preconditionFailed(`${key} does not exist, so it cannot be at revision ${condition.revision}`);
      if (currentRevision !== condition.revision) {
        throw preconditionFailed(`${key} has changed: its revision is ${currentRevision}, not ${condition.revision}`);
      }
  }
}
