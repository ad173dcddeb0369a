// Digests as the site registry takes them from a client: a bad one is DIGEST_INVALID (400), which is what the
// distribution spec asks of a bad or unsupported digest.
import { checkDigest, type ParsedDigest } from '../image-spec/index.js';
import { RegistryError } from './registry-error.js';

/** A digest the site registry took: its parts and the canonical string they came from. */
export interface RegistryDigest extends ParsedDigest {
  digest: string;
}

/** Parses a digest or throws DIGEST_INVALID. */
export function requireDigest(value: string): RegistryDigest {
  const checked = checkDigest(value);
  if ('encoded' in checked) return { ...checked, digest: value };
  switch (checked.kind) {
    case 'malformed':
      throw new RegistryError('DIGEST_INVALID', `invalid digest ${JSON.stringify(value.slice(0, 200))}`, { digest: value.slice(0, 200) });
    case 'unsupported-algorithm':
      throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm ${checked.algorithm}`, { digest: value });
    case 'bad-encoding':
      throw new RegistryError('DIGEST_INVALID', `invalid ${checked.algorithm} digest ${value}`, { digest: value });
  }
}
