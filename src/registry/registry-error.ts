// Typed errors of the site registry: a BerthError (so /v1 maps it by `kind` like any other) that also carries
// the OCI distribution error code and status, so the /v2 router can answer in the spec's own error format.
import { BerthError, type ErrorKind } from '../errors.js';

/**
 * The error codes of the OCI distribution spec, plus CNCF distribution's UNAVAILABLE (503) and UNKNOWN (500, and
 * 507 when the disk is full).
 */
export type OciErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'UNAVAILABLE'
  | 'UNKNOWN';

const defaultStatus: Record<OciErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
};

const kindOfStatus = (status: number): ErrorKind => {
  switch (status) {
    case 401: return 'unauthenticated';
    case 403: return 'forbidden';
    case 404: return 'not-found';
    case 409: return 'conflict';
    case 413: return 'payload-too-large';
    case 416: return 'range-not-satisfiable';
    case 429:
    case 503: return 'unavailable';
    case 507: return 'insufficient-storage';
    case 500: return 'internal';
    default: return 'invalid-input';
  }
};

export class RegistryError extends BerthError {
  readonly status: number;

  constructor(
    readonly code: OciErrorCode,
    message: string,
    /** Goes to the client as the OCI `detail` (and as `error-info` on /v1). Never a secret. */
    readonly detail?: Record<string, unknown>,
    status?: number,
    /** For 429 and 503: when the client may try again, sent as `Retry-After`. */
    retryAfterSeconds?: number,
  ) {
    const httpStatus = status ?? defaultStatus[code];
    super(kindOfStatus(httpStatus), message, { code, ...(detail ?? {}) }, retryAfterSeconds);
    this.name = 'RegistryError';
    this.status = httpStatus;
  }
}

/** The bytes received do not hash to the digest the caller promised; nothing was made visible. */
export class DigestMismatchError extends RegistryError {
  constructor(readonly expected: string, readonly actual: string) {
    super('DIGEST_INVALID', `content digest ${actual} does not match the expected ${expected}`, { expected, actual });
    this.name = 'DigestMismatchError';
  }
}

/** The number of bytes received differs from the size the caller promised; nothing was made visible. */
export class SizeMismatchError extends RegistryError {
  constructor(readonly expected: number, readonly actual: number) {
    super('SIZE_INVALID', `content is ${actual} bytes, expected ${expected}`, { expected, actual });
    this.name = 'SizeMismatchError';
  }
}

export const isRegistryError = (e: unknown): e is RegistryError => e instanceof RegistryError;

/** A manifest names blobs or child manifests the registry does not have: one OCI error per digest. */
export class ManifestBlobUnknownError extends RegistryError {
  constructor(readonly missing: string[]) {
    super('MANIFEST_BLOB_UNKNOWN', `manifest references ${missing.length} unknown blob(s) or manifest(s): ${missing.slice(0, 5).join(', ')}`, {
      digest: missing[0],
      missing,
    });
    this.name = 'ManifestBlobUnknownError';
  }
}
