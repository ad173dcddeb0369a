// Every call an operation makes to a remote registry goes through here, so its failures say what is really wrong:
// a 404 or garbled answer from a server that is no registry becomes `not-a-registry`, and secret-store problems met
// while resolving credentials name the registry they were for.
import { BerthError } from '../../errors.js';
import { UpstreamError, type RegistryClient, type UpstreamErrorKind } from '../../oci/index.js';

/** Failures a plain web server produces as readily as a registry does; a ping tells the two apart. */
const AMBIGUOUS_KINDS = new Set<UpstreamErrorKind>(['no-catalog', 'not-found', 'bad-response']);

/** A secret-store failure (missing secret, no permission, ...) carried as an upstream failure, with the registry added. */
function withRegistryContext(error: BerthError, registry: string): BerthError {
  return new BerthError(error.kind, `remote registry '${registry}': ${error.message}`, { ...error.info, registry }, error.retryAfterSeconds);
}

export interface UpstreamCallOptions {
  /** Ping the registry when the call failed ambiguously (off when the caller pinged already). Default true. */
  diagnose?: boolean;
}

export async function callRegistry<T>(client: RegistryClient, call: () => Promise<T>, options: UpstreamCallOptions = {}): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof UpstreamError) {
      if ((options.diagnose ?? true) && AMBIGUOUS_KINDS.has(error.failure.kind)) {
        try {
          await client.ping();
        } catch (pingError) {
          if (pingError instanceof UpstreamError && pingError.failure.kind === 'not-a-registry') throw pingError;
        }
      }
      throw error;
    }
    // A sealed or unreachable secret store is a 503 for the whole API, not a problem of this registry.
    if (error instanceof BerthError && error.kind === 'upstream-failure') throw withRegistryContext(error, client.registry);
    throw error;
  }
}
