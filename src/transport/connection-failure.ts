// Why no answer came from a remote, as Node and undici say it: the error codes of DNS, connection, dropped-connection,
// timeout and TLS failures, and the error that says most when Node tried several addresses. Every outbound caller
// words its own message from these (oci/transport-failure.ts for registries, sites/site-connections.ts for sites).

export const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
export const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL']);
/** The connection went away under a request: a stale keep-alive socket or a restarting server. Worth a retry. */
export const DROPPED_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);
export const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
/** OpenSSL's way of saying the other side answered with something that is not TLS, e.g. plain HTTP. */
export const NOT_TLS_CODES = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_RECORD_LAYER_FAILURE',
]);
export const CERTIFICATE_CODES = new Set([
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
export const UNTRUSTED_CODES = new Set([
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
export function primaryError(error: unknown): unknown {
  if (error instanceof AggregateError) return error.errors.find((e) => codeOf(e) !== undefined) ?? error.errors[0] ?? error;
  return error;
}

export const isAbort = (error: unknown): boolean => {
  const e = primaryError(error);
  return codeOf(e) === 'UND_ERR_ABORTED' || codeOf(e) === 'ABORT_ERR' || (e instanceof Error && e.name === 'AbortError');
};

/** A connection that went away under a request (not a refused one): a new connection may well work. */
export const isDropped = (error: unknown): boolean => DROPPED_CODES.has(codeOf(primaryError(error)) ?? '');
