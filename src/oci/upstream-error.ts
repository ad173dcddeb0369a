// Why a call to a remote registry failed, as a typed value: every failure is a BerthError of kind
// `upstream-failure` (502) whose error-info says what went wrong upstream ({kind, registry, status?, ...}).
import { BerthError } from '../errors.js';

export type UpstreamErrorKind =
  | 'dns'
  | 'connect'
  | 'tls'
  | 'timeout'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'rate-limited'
  | 'not-a-registry'
  | 'no-catalog'
  | 'bad-response';

/** What the API shows as `error-info`; never holds a credential. */
export interface UpstreamFailure {
  kind: UpstreamErrorKind;
  /** The registry as configured (its `address`), so the client can tell which remote failed. */
  registry: string;
  /** The HTTP status, when the registry (or its token service) answered one. */
  status?: number;
  /** For `rate-limited`: the registry's `Retry-After`, in seconds. */
  retryAfterSeconds?: number;
  /** For `tls`: the Node/OpenSSL code of the certificate problem, e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`. */
  certificateProblem?: string;
  /** The distribution error codes of the answer (`MANIFEST_UNKNOWN`, `UNSUPPORTED`, ...), when it carried any. */
  registryErrorCodes?: string[];
}

export class UpstreamError extends BerthError {
  readonly failure: UpstreamFailure;

  constructor(failure: UpstreamFailure, message: string, options?: { cause?: unknown }) {
    const info = Object.fromEntries(Object.entries(failure).filter(([, value]) => value !== undefined)) as UpstreamFailure;
    super('upstream-failure', message, { ...info }, failure.retryAfterSeconds);
    this.name = 'UpstreamError';
    this.failure = info;
    if (options?.cause !== undefined) this.cause = options.cause;
  }

  /** Shorthand for `failure.kind`: what went wrong upstream. */
  get upstreamKind(): UpstreamErrorKind {
    return this.failure.kind;
  }
}

export const isUpstreamError = (error: unknown, kind?: UpstreamErrorKind): error is UpstreamError =>
  error instanceof UpstreamError && (kind === undefined || error.failure.kind === kind);
