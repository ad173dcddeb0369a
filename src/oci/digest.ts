// Content digests (`sha256:<hex>`, `sha512:<hex>`): parsing, computing and streaming verification.
// Only the algorithms the OCI image spec registers are accepted, because a digest we cannot verify is worthless.
import { createHash, type Hash } from 'node:crypto';
import { invalidInput } from '../errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lowercase hex of the hash. */
  encoded: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** The generic grammar of the distribution reference (`algorithm:encoded`), before we insist on a known algorithm. */
export const DIGEST_GRAMMAR = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** The parsed digest, or undefined when `value` is not a sha256/sha512 digest in canonical (lowercase) form. */
export function parseDigest(value: string): ParsedDigest | undefined {
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const encoded = value.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return undefined;
  if (encoded.length !== HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(encoded)) return undefined;
  return { algorithm, encoded };
}

export const isDigest = (value: string): boolean => parseDigest(value) !== undefined;

/** Like parseDigest, but bad input is a 400 that names `what` (e.g. "digest", "image reference"). */
export function requireDigest(value: string, what = 'digest'): ParsedDigest {
  const parsed = parseDigest(value);
  if (parsed) return parsed;
  if (DIGEST_GRAMMAR.test(value)) {
    throw invalidInput(`${what} '${value}': only sha256 and sha512 digests in lowercase hex are supported`);
  }
  throw invalidInput(`${what} '${value}' is not a digest (expected sha256:<64 hex digits> or sha512:<128 hex digits>)`);
}

export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Incremental digest of streamed content, for verifying blobs while they are written to disk. */
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
