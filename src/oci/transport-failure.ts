// Network, DNS and TLS errors from Node and undici turned into UpstreamErrors: which kind, and a message that
// names the registry and the host and, for TLS, the certificate problem as Node's code names it.
import { resourceExhaustion } from '../errors.js';
import { UpstreamError, type UpstreamErrorKind } from './upstream-error.js';
import {
  CERTIFICATE_CODES,
  CONNECT_CODES,
  DNS_CODES,
  DROPPED_CODES,
  NOT_TLS_CODES,
  TIMEOUT_CODES,
  UNTRUSTED_CODES,
  codeOf,
  isAbort,
  isDropped,
  primaryError,
} from '../transport/index.js';

/** Whether a failure was a dropped connection (not a refused one): retrying on a new connection may work. */
export const isDroppedConnection = (error: unknown): boolean => {
  const cause = error instanceof UpstreamError ? error.cause : error;
  return isDropped(cause);
};

export interface FailureContext {
  /** The registry's configured address, carried in error-info. */
  registry: string;
  /** How messages name the registry, e.g. `registry.example.com (via 10.0.0.5:5000)`. */
  label: string;
  /** `host:port` that was being talked to (the registry, a token realm, a redirect target). */
  host: string;
}

/**
 * The UpstreamError for a thrown network/TLS error; aborts and UpstreamErrors pass through unchanged. Running out of
 * file descriptors is Berth's condition, not the registry's: it becomes the 503 it is, not an upstream failure.
 */
export function transportFailure(error: unknown, context: FailureContext): unknown {
  if (error instanceof UpstreamError || isAbort(error)) return error;
  const e = primaryError(error);
  const exhausted = resourceExhaustion(e);
  if (exhausted) return exhausted;
  const code = codeOf(e) ?? '';
  const detail = e instanceof Error ? e.message : String(e);
  const fail = (kind: UpstreamErrorKind, message: string, extra: { certificateProblem?: string } = {}) =>
    new UpstreamError({ kind, registry: context.registry, ...extra }, `registry ${context.label}: ${message}`, { cause: error });

  if (DNS_CODES.has(code)) return fail('dns', `cannot resolve host ${context.host} (${code})`);
  if (CONNECT_CODES.has(code)) return fail('connect', `cannot connect to ${context.host} (${code})`);
  if (DROPPED_CODES.has(code)) return fail('connect', `connection to ${context.host} was closed (${code})`);
  if (TIMEOUT_CODES.has(code)) {
    const phase =
      code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connecting' : code === 'UND_ERR_BODY_TIMEOUT' ? 'receiving the body' : 'waiting for an answer';
    return fail('timeout', `timed out ${phase} from ${context.host} (${code})`);
  }
  if (NOT_TLS_CODES.has(code)) {
    return fail('not-a-registry', `${context.host} does not speak TLS (is it a plain-HTTP server?): ${code}`);
  }
  if (CERTIFICATE_CODES.has(code)) {
    const hint = UNTRUSTED_CODES.has(code) ? '; if it is signed by a private CA, set ca-cert to that CA' : '';
    return fail('tls', `TLS certificate of ${context.host} not accepted: ${detail} (${code})${hint}`, { certificateProblem: code });
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('EPROTO')) {
    return fail('tls', `TLS handshake with ${context.host} failed (${code})`, { certificateProblem: code });
  }
  return fail('connect', `request to ${context.host} failed: ${detail}${code ? ` (${code})` : ''}`);
}
