// Digests given to the client by Berth's own callers (image references, blob digests): a bad one is the caller's
// 400 naming what it was, in the words of the image spec's DigestProblem.
import { invalidInput } from '../errors.js';
import { checkDigest, type ParsedDigest } from '../image-spec/index.js';

/** Like parseDigest, but bad input is a 400 that names `what` (e.g. "digest", "image reference"). */
export function requireDigest(value: string, what = 'digest'): ParsedDigest {
  const checked = checkDigest(value);
  if ('encoded' in checked) return checked;
  if (checked.kind === 'unsupported-algorithm') {
    throw invalidInput(`${what} '${value}': only sha256 and sha512 digests in lowercase hex are supported`);
  }
  throw invalidInput(`${what} '${value}' is not a digest (expected sha256:<64 hex digits> or sha512:<128 hex digits>)`);
}
