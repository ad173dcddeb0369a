// Network, DNS and TLS errors from Node and undici turned into RegistryErrors: which kind, and a message that
// names the registry and the host and, for TLS, the certificate problem as Node's code names it.
import { resourceExhaustion } from '../errors.js';
import { RegistryError, type RegistryErrorKind } from './registry-error.js';

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);
/** The connection went away under a request: a stale keep-alive socket or a restarting server. Worth a retry. */
const DROPPED_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
/** OpenSSL's way of saying the other side answered with something that is not TLS, e.g. plain HTTP. */
const NOT_TLS_CODES = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_RECORD_LAYER_FAILURE',
]);
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The certificate may be fine but signed by nobody we trust: the fix is ca-cert. */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);

export const codeOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** Node tries every address of a name and reports an AggregateError; its first coded error says most. */
function primaryError(error: unknown): unknown {
  if (error instanceof AggregateError) return error.errors.find((e) => codeOf(e) !== undefined) ?? error.errors[0] ?? error;
  return error;
}

export const isAbort = (error: unknown): boolean => {
  const e = primaryError(error);
  return codeOf(e) === 'UND_ERR_ABORTED' || codeOf(e) === 'ABORT_ERR' || (e instanceof Error && e.name === 'AbortError');
};

/** Whether a failure was a dropped connection (not a refused one): retrying on a new connection may work. */
export const isDroppedConnection = (error: unknown): boolean => {
  const cause = error instanceof RegistryError ? error.cause : error;
  return DROPPED_CODES.has(codeOf(primaryError(cause)) ?? '');
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
 * The RegistryError for a thrown network/TLS error; aborts and RegistryErrors pass through unchanged. Running out of
 * file descriptors is Berth's condition, not the registry's: it becomes the 503 it is, not an upstream failure.
 */
export function transportFailure(error: unknown, context: FailureContext): unknown {
  if (error instanceof RegistryError || isAbort(error)) return error;
  const e = primaryError(error);
  const exhausted = resourceExhaustion(e);
  if (exhausted) return exhausted;
  const code = codeOf(e) ?? '';
  const detail = e instanceof Error ? e.message : String(e);
  const fail = (kind: RegistryErrorKind, message: string, extra: { certificateProblem?: string } = {}) =>
    new RegistryError({ kind, registry: context.registry, ...extra }, `registry ${context.label}: ${message}`, { cause: error });

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
