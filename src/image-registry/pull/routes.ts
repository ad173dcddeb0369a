// Routes of the pull operation: per remote registry (`.../remote-registries/{address}/pull`) and by full image
// reference (`/state/image-registry/pull`). Thin: read the body, find the registry and its client, pull, answer.
import { Router, type Request } from 'express';
import { isBerthError, notFound } from '../../errors.js';
import { sendAnswer } from '../../http/answer.js';
import type { Versioned } from '../../config/config-list.js';
import type { OperationDeps } from '../operation-deps.js';
import type { RemoteRegistry } from '../remote-registry.js';
import { BlobTransfers, DEFAULT_TRANSFER_POLICY } from './blob-transfer.js';
import { ImagePuller, type PullOutcome } from './pull-image.js';
import { readPullRequest, splitFullReference, type PullRequestBody } from './pull-request.js';

const answerOf = (outcome: PullOutcome) => ({ name: outcome.name, digest: outcome.digest, 'tag-updated': outcome.tagUpdated });

export function pullRoutes(deps: OperationDeps): Router {
  const router = Router();
  // One of each for the whole process: the per-registry download limits and the single flights span every pull.
  const transfers = new BlobTransfers(deps.siteRegistry.blobs, { ...DEFAULT_TRANSFER_POLICY, perRegistry: deps.limits.remoteFetches });
  const puller = new ImagePuller(deps.siteRegistry, transfers, deps.limits);

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
    const { registryAddress, image } = splitFullReference(body.image);
    const registry = await deps.registries.get(registryAddress).catch((error: unknown) => {
      if (!isBerthError(error) || error.kind !== 'not-found') throw error;
      throw notFound(`image '${body.image}' names registry '${registryAddress}', which is not a configured remote registry`, {
        registry: registryAddress,
      });
    });
    sendAnswer(req, res, 200, answerOf(await pull(req, registry, { ...body, image })));
  });
  return router;
}
