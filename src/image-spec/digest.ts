// Content digests (`algorithm:encoded`) as the OCI image spec defines them: parsing, hashing whole or streamed.
// Only the algorithms the spec registers are accepted, because a digest we cannot verify is worthless. A bad digest
// is a neutral value here (DigestProblem); the client and the site registry each say it in their own words.
import { createHash, type Hash } from 'node:crypto';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lowercase hex of the hash. */
  encoded: string;
}

/** Why a string is not a digest Berth takes. */
export type DigestProblem =
  /** Not `algorithm:encoded` by the spec's grammar. */
  | { kind: 'malformed' }
  /** Well-formed, by an algorithm other than sha256/sha512. */
  | { kind: 'unsupported-algorithm'; algorithm: string }
  /** sha256/sha512, but not the right number of lowercase hex digits. */
  | { kind: 'bad-encoding'; algorithm: DigestAlgorithm };

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
// The image spec's digest grammar; anything matching it with another algorithm is well-formed but unsupported.
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export const isDigestAlgorithm = (value: string): value is DigestAlgorithm => value === 'sha256' || value === 'sha512';

/** The parsed digest, or why `value` is not a sha256/sha512 digest in canonical (lowercase) form. */
export function checkDigest(value: string): ParsedDigest | DigestProblem {
  if (!DIGEST_GRAMMAR.test(value)) return { kind: 'malformed' };
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const encoded = value.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) return { kind: 'unsupported-algorithm', algorithm };
  if (encoded.length !== HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(encoded)) return { kind: 'bad-encoding', algorithm };
  return { algorithm, encoded };
}

const isParsed = (checked: ParsedDigest | DigestProblem): checked is ParsedDigest => 'encoded' in checked;

/** The parsed digest, or undefined when `value` is not a sha256/sha512 digest in canonical form. */
export function parseDigest(value: string): ParsedDigest | undefined {
  const checked = checkDigest(value);
  return isParsed(checked) ? checked : undefined;
}

/** Why `value` is not a digest, or undefined when it is one. */
export function digestProblem(value: string): DigestProblem | undefined {
  const checked = checkDigest(value);
  return isParsed(checked) ? undefined : checked;
}

export const isDigest = (value: string): boolean => parseDigest(value) !== undefined;

export const createDigestHash = (algorithm: DigestAlgorithm): Hash => createHash(algorithm);

/** The digest of bytes held in memory (manifests, configs). */
export const digestOf = (bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string =>
  `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;

/** Incremental digest of streamed content, for verifying blobs while they arrive. */
export class Digester {
  private readonly hash: Hash;
  private length = 0;

  constructor(readonly algorithm: DigestAlgorithm = 'sha256') {
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.length += chunk.length;
  }

  get bytes(): number {
    return this.length;
  }

  /** The digest of everything seen; call once. */
  digest(): string {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}
