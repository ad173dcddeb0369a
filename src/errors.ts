// Typed errors shared by every domain module. Domain code throws these and knows nothing of HTTP;
// src/http/error-response.ts is the one place that maps a kind to a status code and an error body.

/** Machine-readable detail carried to the client as `error-info`. Never put secret values here. */
export type ErrorInfo = Record<string, unknown>;

export type ErrorKind =
  | 'invalid-input'
  | 'unauthenticated'
  | 'forbidden'
  | 'not-found'
  | 'method-not-allowed'
  | 'already-exists'
  | 'conflict'
  | 'precondition-failed'
  | 'not-acceptable'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'range-not-satisfiable'
  | 'upstream-failure'
  | 'unavailable'
  /** The disk (or the file-size limit) took no more: nothing was stored. */
  | 'insufficient-storage'
  /** A bug in Berth: never for anything a client sent. */
  | 'internal';

export class BerthError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly info?: ErrorInfo,
    /** For `unavailable`: seconds a client should wait before retrying. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'BerthError';
  }
}

export const invalidInput = (message: string, info?: ErrorInfo) => new BerthError('invalid-input', message, info);
export const notFound = (message: string, info?: ErrorInfo) => new BerthError('not-found', message, info);
export const alreadyExists = (message: string, info?: ErrorInfo) => new BerthError('already-exists', message, info);
export const conflict = (message: string, info?: ErrorInfo) => new BerthError('conflict', message, info);
export const preconditionFailed = (message: string, info?: ErrorInfo) =>
  new BerthError('precondition-failed', message, info);
export const forbidden = (message: string, info?: ErrorInfo) => new BerthError('forbidden', message, info);
export const unauthenticated = (message: string) => new BerthError('unauthenticated', message);
export const upstreamFailure = (message: string, info?: ErrorInfo) => new BerthError('upstream-failure', message, info);
export const unavailable = (message: string, retryAfterSeconds: number, info?: ErrorInfo) =>
  new BerthError('unavailable', message, info, retryAfterSeconds);

export const isBerthError = (e: unknown): e is BerthError => e instanceof BerthError;

/** Disk full, quota or file-size limit reached: a write that cannot complete now, whoever sent it. */
const STORAGE_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'SQLITE_FULL']);
/** The process or the system ran out of file descriptors: temporary, worth a retry soon. */
const OUT_OF_FILES_CODES = new Set(['EMFILE', 'ENFILE']);

/**
 * The typed error for a failure of the machine rather than of the request: a full disk (507) or no file descriptor
 * left (503 with Retry-After). Undefined for anything else. The message names the condition, never a path.
 */
export function resourceExhaustion(error: unknown): BerthError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (STORAGE_FULL_CODES.has(code)) return new BerthError('insufficient-storage', `storage full (${code}): nothing was stored; free disk space and retry`, { code });
  if (OUT_OF_FILES_CODES.has(code)) return unavailable(`Berth has too many files open (${code}); retry shortly`, 1, { code });
  return undefined;
}
