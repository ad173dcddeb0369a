// verify-credentials: can Berth reach this registry and log in with its credentials, and (given an image) read that
// image's manifest? Always an answer (success or why not), recorded as the registry's last verification.
import { BerthError } from '../../errors.js';
import { UpstreamError, manifestReferenceOf, parseRepositoryReference } from '../../oci/index.js';
import type { OperationDeps } from '../operation-deps.js';
import { callRegistry } from './upstream-call.js';

export interface VerifyCredentialsRequest {
  /** `repository[:tag][@digest]` in this registry; the tag defaults to `latest`. */
  image?: string;
}

export interface VerifyCredentialsAnswer {
  success: boolean;
  /** The digest of the image's manifest (or index), when an image was given and could be read. */
  digest?: string;
  'error-message'?: string;
  'error-type'?: VerificationErrorType;
}

/** What `error-type` can say: the registry client's failure kinds, then problems with the credentials' secrets. */
export const VERIFICATION_ERROR_TYPES = [
  'dns',
  'connect',
  'tls',
  'timeout',
  'unauthorized',
  'forbidden',
  'not-found',
  'rate-limited',
  'not-a-registry',
  'no-catalog',
  'bad-response',
  'secret-missing',
  'secret-forbidden',
  'secret-malformed',
  'secret-store-error',
  'no-secret-store',
  'invalid-configuration',
] as const;
export type VerificationErrorType = (typeof VERIFICATION_ERROR_TYPES)[number];

const isErrorType = (value: unknown): value is VerificationErrorType =>
  typeof value === 'string' && (VERIFICATION_ERROR_TYPES as readonly string[]).includes(value);

/**
 * Why a verification failed, as an answer. A sealed or unreachable secret store (503) and bugs are not answers about
 * this registry: they are thrown on.
 */
function failureOf(error: unknown): { type: VerificationErrorType; message: string } {
  if (error instanceof UpstreamError) return { type: error.failure.kind, message: error.message };
  if (error instanceof BerthError && error.kind !== 'unavailable' && error.kind !== 'internal') {
    const kind = error.info?.kind;
    return { type: isErrorType(kind) ? kind : 'invalid-configuration', message: error.message };
  }
  throw error;
}

export async function verifyCredentials(deps: OperationDeps, address: string, request: VerifyCredentialsRequest): Promise<VerifyCredentialsAnswer> {
  // A malformed image is the caller's mistake (400), not a failed verification.
  const reference = request.image !== undefined ? parseRepositoryReference(request.image) : undefined;
  const registry = await deps.registries.get(address);
  let answer: VerifyCredentialsAnswer;
  try {
    const client = deps.clients.clientFor(registry);
    // Anything that answers is not yet a registry: the ping insists on the distribution API's answer to /v2/.
    await client.ping();
    if (reference) {
      // Reading the manifest logs in with the credentials of that image's repository, which are the ones that
      // matter for it (the registry-wide `*` entry may not even exist).
      const manifest = await callRegistry(client, () => client.getManifest(reference.repository, manifestReferenceOf(reference)), { diagnose: false });
      answer = { success: true, digest: manifest.digest };
    } else {
      await callRegistry(client, () => client.authenticate(), { diagnose: false });
      answer = { success: true };
    }
  } catch (error) {
    const failure = failureOf(error);
    answer = { success: false, 'error-message': failure.message, 'error-type': failure.type };
  }
  deps.verifications.record(address, {
    time: new Date().toISOString(),
    ...answer,
    ...(request.image !== undefined ? { image: request.image } : {}),
  });
  return answer;
}
