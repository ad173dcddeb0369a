// Routes of the read-only operations on a remote registry (verify-credentials, list-repositories, list-images).
// Thin: the contract has validated the body; pick the target, call the domain operation, answer.
import type { Router, Request } from 'express';
import { answerFormat, sendAnswer } from '../../http/answer.js';
import type { OperationDeps } from '../operation-deps.js';
import { listImages, type ListImagesRequest } from './list-images.js';
import { listRepositories } from './list-repositories.js';
import { verifyCredentials, type VerifyCredentialsRequest } from './verify-credentials.js';
import { strictRouter } from '../../http/path-grammar.js';

const OPERATIONS = '/state/image-registry/remote-registries/:key';

/**
 * The registry address the operation is for. `?site=` never reaches here: site forwarding (src/sites) carries the
 * request to the site. The answer format is settled first, so an unacceptable Accept costs no call to the registry.
 */
function targetOf(req: Request): string {
  answerFormat(req);
  return String(req.params.key);
}

export function remoteRegistryOperationRoutes(deps: OperationDeps): Router {
  const router = strictRouter();

  router.post(`${OPERATIONS}/verify-credentials`, async (req, res) => {
    const address = targetOf(req);
    const body = (req.body ?? {}) as VerifyCredentialsRequest;
    sendAnswer(req, res, 200, await verifyCredentials(deps, address, body));
  });

  router.post(`${OPERATIONS}/list-repositories`, async (req, res) => {
    const address = targetOf(req);
    sendAnswer(req, res, 200, await listRepositories(deps, address));
  });

  router.post(`${OPERATIONS}/list-images`, async (req, res) => {
    const address = targetOf(req);
    sendAnswer(req, res, 200, await listImages(deps, address, req.body as ListImagesRequest));
  });

  return router;
}
