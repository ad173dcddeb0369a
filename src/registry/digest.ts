// Content digests (`algorithm:hex`) as the OCI image spec defines them: parsing, validation and hashing.
// sha256 is the default; sha512 is accepted as well because node:crypto gives it for free.
import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from './registry-error.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** The canonical `algorithm:hex` string. */
  digest: string;
}

const hexLength: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
// The image spec's general digest grammar; anything matching it with another algorithm is well-formed but unsupported.
const digestGrammar = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export const isDigestAlgorithm = (value: string): value is DigestAlgorithm => value === 'sha256' || value === 'sha512';

/** Parses a digest or throws DIGEST_INVALID (400), which is what the spec asks of a bad or unsupported digest. */
export function parseDigest(value: string): ParsedDigest {
  if (!digestGrammar.test(value)) {
    throw new RegistryError('DIGEST_INVALID', `invalid digest ${JSON.stringify(value.slice(0, 200))}`, { digest: value.slice(0, 200) });
  }
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm ${algorithm}`, { digest: value });
  }
  if (hex.length !== hexLength[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw new RegistryError('DIGEST_INVALID', `invalid ${algorithm} digest ${value}`, { digest: value });
  }
  return { algorithm, hex, digest: value };
}

export const isDigest = (value: string): boolean => {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
};

export const createDigestHash = (algorithm: DigestAlgorithm): Hash => createHash(algorithm);

/** The digest of bytes held in memory (manifests, configs). */
export const digestOf = (bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string =>
  `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
