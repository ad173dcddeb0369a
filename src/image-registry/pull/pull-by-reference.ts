// A pull named by its full reference (`host[:port]/repository[:tag][@digest]`): the configured remote registry whose
// address is its first component, then the process's one ImagePuller. The pull operation by reference and the
// desired images of a site (sites/site-image-reconciler.ts) both come in here, so both get the same single flights,
// per-registry download limits, resumption and verification.
import type { Versioned } from '../../config/config-list.js';
import { isBerthError, notFound } from '../../errors.js';
import type { OperationDeps } from '../operation-deps.js';
import type { RemoteRegistry } from '../remote-registry.js';
import type { ImagePuller, PullOutcome } from './pull-image.js';
import { readPullRequest, splitFullReference, type PullRequestBody } from './pull-request.js';

export type PullByReference = (body: PullRequestBody) => Promise<PullOutcome & { registry: string }>;

/** The configured remote registry `registryAddress`; a 404 naming the image when there is none. */
export async function registryOfImage(deps: Pick<OperationDeps, 'registries'>, image: string, registryAddress: string): Promise<Versioned<RemoteRegistry>> {
  try {
    return await deps.registries.get(registryAddress);
  } catch (error) {
    if (!isBerthError(error) || error.kind !== 'not-found') throw error;
    throw notFound(`image '${image}' names registry '${registryAddress}', which is not a configured remote registry`, { registry: registryAddress });
  }
}

export function pullByReference(deps: OperationDeps, puller: ImagePuller): PullByReference {
  return async (body) => {
    const { registryAddress, image } = splitFullReference(body.image);
    const registry = await registryOfImage(deps, body.image, registryAddress);
    const spec = readPullRequest({ ...body, image }, registry.value.address);
    const outcome = await puller.pull({ registry: registry.value.address, client: deps.clients.clientFor(registry) }, spec);
    return { ...outcome, registry: registry.value.address };
  };
}
