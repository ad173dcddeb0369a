// A pull named by its full reference (`host[:port]/repository[:tag][@digest]`), for code that is not a route: the
// configured remote registry whose address is its first component, then a tracked pull operation of the process's one
// PullOperations. The desired images of a site (sites/site-image-reconciler.ts) pull through here, so their pulls get
// the same single flights, per-registry download limits, resumption and verification as the pull operation, and show
// in /v1/state/image-registry/pulls with their progress.
import type { Versioned } from '../../config/config-list.js';
import { isBerthError, notFound } from '../../errors.js';
import type { OperationDeps } from '../operation-deps.js';
import type { RemoteRegistry } from '../remote-registry.js';
import type { PullOutcome } from './pull-image.js';
import { PullStoppedError, type PullOperations } from './pull-operations.js';
import { readPullRequest, splitFullReference, type PullRequestBody } from './pull-request.js';

/** Pulls `body`; `signal` gives the pull up (it stops unless others wait for it too): rejects with PullStoppedError. */
export type PullByReference = (body: PullRequestBody, signal?: AbortSignal) => Promise<PullOutcome & { registry: string; pull: string }>;

export { PullStoppedError };

/** The configured remote registry `registryAddress`; a 404 naming the image when there is none. */
export async function registryOfImage(deps: Pick<OperationDeps, 'registries'>, image: string, registryAddress: string): Promise<Versioned<RemoteRegistry>> {
  try {
    return await deps.registries.get(registryAddress);
  } catch (error) {
    if (!isBerthError(error) || error.kind !== 'not-found') throw error;
    throw notFound(`image '${image}' names registry '${registryAddress}', which is not a configured remote registry`, { registry: registryAddress });
  }
}

export function pullByReference(deps: OperationDeps, operations: PullOperations): PullByReference {
  return async (body, signal) => {
    const { registryAddress, image } = splitFullReference(body.image);
    const registry = await registryOfImage(deps, body.image, registryAddress);
    const spec = readPullRequest({ ...body, image }, registry.value.address);
    signal?.throwIfAborted();
    const operation = operations.start({ registry: registry.value.address, client: deps.clients.clientFor(registry) }, spec);
    // Waits like a client of the operation does: giving up leaves it, and a pull nobody waits for any more stops.
    const leave = operation.join();
    signal?.addEventListener('abort', leave, { once: true });
    try {
      const outcome = await operation.outcome;
      return { ...outcome, registry: registry.value.address, pull: operation.id };
    } finally {
      signal?.removeEventListener('abort', leave);
      leave();
    }
  };
}
