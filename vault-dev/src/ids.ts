// Identifiers in the shapes Vault uses: `hvs.` service tokens, accessors, UUIDs.

import { createHash, randomBytes, randomUUID } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 * 62: rejecting larger bytes keeps every character equally likely.
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** A service token as Vault 1.10+ issues them (the non-"server side consistent" form). */
export const newServiceToken = () => `hvs.${randomBase62(24)}`;
export const newAccessor = () => randomBase62(24);
export const newUuid = () => randomUUID();

/** Tokens are stored under a hash of their value, never the value itself. */
export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');
