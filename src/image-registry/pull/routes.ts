// Routes of the pull operation: per remote registry (`.../remote-registries/{address}/pull`) and by full image
// reference (`/state/image-registry/pull`). Thin: read the body, find the registry and its client, pull, answer.
import type { Router, Request } from 'express';
import { sendAnswer } from '../../http/answer.js';
import type { Versioned } from '../../config/config-list.js';
import type { OperationDeps } from '../operation-deps.js';
import type { RemoteRegistry } from '../remote-registry.js';
import { BlobTransfers } from './blob-transfer.js';
import { ImagePuller, type PullOutcome } from './pull-image.js';
import { readPullRequest, type PullRequestBody } from './pull-request.js';
import { pullByReference } from './pull-by-reference.js';
import { strictRouter } from '../../http/path-grammar.js';

const answerOf = (outcome: PullOutcome) => ({ name: outcome.name, digest: outcome.digest, 'tag-updated': outcome.tagUpdated });

/** One for the whole process: the per-registry download limits and the single flights span every pull. */
export const createImagePuller = (deps: Pick<OperationDeps, 'siteRegistry'>): ImagePuller =>
  new ImagePuller(deps.siteRegistry, new BlobTransfers(deps.siteRegistry.blobs));

export function pullRoutes(deps: OperationDeps, puller: ImagePuller): Router {
  const router = strictRouter();
  const byReference = pullByReference(deps, puller);

  const pull = async (req: Request, registry: Versioned<RemoteRegistry>, body: PullRequestBody): Promise<PullOutcome> => {
    const spec = readPullRequest(body, registry.value.address);
    const outcome = await puller.pull({ registry: registry.value.address, client: deps.clients.clientFor(registry) }, spec);
    req.log.info({ registry: registry.value.address, image: body.image, name: outcome.name, digest: outcome.digest }, 'pulled image');
    return outcome;
  };

  router.post('/state/image-registry/remote-registries/:address/pull', async (req, res) => {
    const registry = await deps.registries.get(String(req.params.address));
    sendAnswer(req, res, 200, answerOf(await pull(req, registry, req.body as PullRequestBody)));
  });

  router.post('/state/image-registry/pull', async (req, res) => {
    const body = req.body as PullRequestBody;
    const outcome = await byReference(body);
    req.log.info({ registry: outcome.registry, image: body.image, name: outcome.name, digest: outcome.digest }, 'pulled image');
    sendAnswer(req, res, 200, answerOf(outcome));
  });
  return router;
}
