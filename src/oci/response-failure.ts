// An unexpected HTTP answer from a registry as a UpstreamError: the kind from the status, the distribution error
// codes from the body (`{"errors":[{"code":"MANIFEST_UNKNOWN",...}]}`), and `Retry-After` for 429.
import { headerValue, type RegistryResponse } from './dispatch.js';
import { readBody } from './read-body.js';
import { UpstreamError, type UpstreamErrorKind } from './upstream-error.js';
import { retryAfterMs } from './retry-layer.js';

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** The `code`s of a distribution error body; none when the body is not one. */
async function errorCodes(response: RegistryResponse): Promise<string[]> {
  try {
    const parsed: unknown = JSON.parse((await readBody(response.body, MAX_ERROR_BODY_BYTES)).toString('utf8'));
    const errors = (parsed as { errors?: unknown } | null)?.errors;
    if (!Array.isArray(errors)) return [];
    return errors
      .map((e) => (e as { code?: unknown } | null)?.code)
      .filter((code): code is string => typeof code === 'string' && /^[A-Z_]{1,64}$/.test(code));
  } catch {
    return [];
  }
}

export interface FailureSubject {
  registry: string;
  label: string;
  /** What was asked for, e.g. `manifest avassa-public/app:v1`. */
  subject: string;
  /** The kind for a 404: `not-found`, or `no-catalog` for the catalog. */
  notFoundKind?: UpstreamErrorKind;
}

export async function responseFailure(response: RegistryResponse, context: FailureSubject): Promise<UpstreamError> {
  const status = response.statusCode;
  const codes = await errorCodes(response);
  const codeText = codes.length > 0 ? ` (${codes.join(', ')})` : '';
  const make = (kind: UpstreamErrorKind, message: string, extra: { retryAfterSeconds?: number } = {}) =>
    new UpstreamError(
      { kind, registry: context.registry, status, ...extra, ...(codes.length > 0 ? { registryErrorCodes: codes } : {}) },
      `registry ${context.label}: ${message}${codeText}`,
    );
  switch (status) {
    case 401:
      return make('unauthorized', `authentication required for ${context.subject}`);
    case 403:
      return make('forbidden', `access to ${context.subject} is forbidden`);
    case 404:
      return make(context.notFoundKind ?? 'not-found', `${context.subject} not found`);
    case 429: {
      const wait = retryAfterMs(headerValue(response, 'retry-after'));
      const seconds = wait === undefined ? undefined : Math.ceil(wait / 1000);
      return make('rate-limited', `rate limit reached asking for ${context.subject}${seconds !== undefined ? `; retry after ${seconds} s` : ''}`, {
        ...(seconds !== undefined ? { retryAfterSeconds: seconds } : {}),
      });
    }
    case 408:
    case 504:
      return make('timeout', `timed out answering for ${context.subject} (HTTP ${status})`);
    default:
      return make('bad-response', `unexpected HTTP ${status} for ${context.subject}`);
  }
}
