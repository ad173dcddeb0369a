// Routes of the pull operation: per remote registry (`.../remote-registries/{address}/pull`) and by full image
// reference (`/state/image-registry/pull`), and the pulls Berth tracks (`/state/image-registry/pulls`). Thin: read the
// body, find the registry and its client, start (or join) the pull operation, and answer as the client asked: once
// the image is in, as a stream of progress (NDJSON), or at once with 202 and the pull's Location (`wait=false`).
import type { Request, Response, Router } from 'express';
import { answerFormat, OFFERED, sendAnswer } from '../../http/answer.js';
import { errorBodyOf, failureOf } from '../../http/error-response.js';
import { readOptions, shapeList, shapeOne } from '../../http/query-options.js';
import { componentSchema } from '../../contract/openapi.js';
import type { Versioned } from '../../config/config-list.js';
import type { OperationDeps } from '../operation-deps.js';
import type { RemoteRegistry } from '../remote-registry.js';
import { BlobProgress } from './blob-progress.js';
import { BlobTransfers, DEFAULT_TRANSFER_POLICY } from './blob-transfer.js';
import { ImagePuller, type PullOutcome } from './pull-image.js';
import { PullOperations, PullStoppedError, type PullOperation } from './pull-operations.js';
import { followProgress } from './pull-progress.js';
import { readPullRequest, splitFullReference, type PullRequestBody } from './pull-request.js';
import { registryOfImage } from './pull-by-reference.js';
import { strictRouter } from '../../http/path-grammar.js';

const NDJSON = 'application/x-ndjson';
const PULLS = '/state/image-registry/pulls';

const answerOf = (outcome: PullOutcome) => ({ name: outcome.name, digest: outcome.digest, 'tag-updated': outcome.tagUpdated });

export interface PullRoutesOptions {
  /** How many finished pulls `/state/image-registry/pulls` keeps listing. */
  history: number;
}

/**
 * How the client asked to be answered: at once (`wait=false`), with the progress stream, or when the image is in.
 * Settled before the pull starts, so an Accept nothing can satisfy is a 406 that started nothing.
 */
function answerMode(req: Request): 'accepted' | 'progress' | 'answer' {
  if (req.query.wait !== 'false' && req.accepts([...OFFERED, NDJSON]) === NDJSON) return 'progress';
  answerFormat(req);
  return req.query.wait === 'false' ? 'accepted' : 'answer';
}

/**
 * The pull's progress as NDJSON: `pull-started`, then its events as they come, then the plain answer or an error
 * body. Headers go out at once, so a client (or the tower forwarding for one) sees the pull begin.
 */
async function streamProgress(req: Request, res: Response, operation: PullOperation): Promise<void> {
  res.status(200).set({ 'Content-Type': `${NDJSON}; charset=utf-8`, 'Cache-Control': 'no-store' });
  res.flushHeaders();
  const send = (line: object) => {
    if (!res.destroyed) res.write(`${JSON.stringify(line)}\n`);
  };
  send({ event: 'pull-started', id: operation.id, ...operation.subject });
  const feed = followProgress(operation.progress, send);
  let last: object;
  try {
    last = answerOf(await operation.outcome);
  } catch (error) {
    // Stopped because this client, the last one, went away: nobody to tell.
    if (error instanceof PullStoppedError) return feed.close();
    last = errorBodyOf(failureOf(error, req, res));
  }
  feed.close();
  send(last);
  res.end();
}

/** The pull machinery of the process: pull operations, the blob transfers under them, and every blob's progress. */
export interface PullMachinery {
  operations: PullOperations;
  transfers: BlobTransfers;
  progress: BlobProgress;
}

/**
 * The pull machinery of the process, one of each: the per-registry download limits, the single flights and the
 * progress of every blob being written span every pull, whether a route, a site's desired images or a pull-through
 * request (image-registry/mirror/) started it.
 */
export function createPullMachinery(deps: Pick<OperationDeps, 'siteRegistry' | 'limits'>, options: PullRoutesOptions): PullMachinery {
  const progress = new BlobProgress();
  const transfers = new BlobTransfers(progress.reporting(deps.siteRegistry.blobs), { ...DEFAULT_TRANSFER_POLICY, perRegistry: deps.limits.remoteFetches });
  const operations = new PullOperations(new ImagePuller(deps.siteRegistry, transfers, deps.limits), transfers, progress, options);
  return { operations, transfers, progress };
}

export function pullRoutes(deps: OperationDeps, operations: PullOperations): Router {
  const router = strictRouter();

  const pull = async (req: Request, res: Response, registry: Versioned<RemoteRegistry>, body: PullRequestBody): Promise<void> => {
    const mode = answerMode(req);
    const spec = readPullRequest(body, registry.value.address);
    const operation = operations.start({ registry: registry.value.address, client: deps.clients.clientFor(registry) }, spec);
    const logged = operation.outcome.then((outcome) =>
      req.log.info({ registry: registry.value.address, image: body.image, name: outcome.name, digest: outcome.digest, pull: operation.id }, 'pulled image'),
    );
    logged.catch(() => {});

    if (mode === 'accepted') {
      operation.runToEnd();
      res.set('Location', `${req.baseUrl}${PULLS}/${operation.id}`);
      return sendAnswer(req, res, 202, operation.record());
    }
    // This request waits for the pull until its answer is out or its client goes away, whichever comes first.
    const leave = operation.join();
    res.once('close', leave);
    if (req.socket.destroyed) leave();
    if (mode === 'progress') return streamProgress(req, res, operation);
    let outcome: PullOutcome;
    try {
      outcome = await operation.outcome;
    } catch (error) {
      if (error instanceof PullStoppedError) return;
      throw error;
    }
    sendAnswer(req, res, 200, answerOf(outcome));
  };

  router.post('/state/image-registry/remote-registries/:address/pull', async (req, res) => {
    const registry = await deps.registries.get(String(req.params.address));
    await pull(req, res, registry, req.body as PullRequestBody);
  });

  router.post('/state/image-registry/pull', async (req, res) => {
    const body = req.body as PullRequestBody;
    const { registryAddress, image } = splitFullReference(body.image);
    const registry = await registryOfImage(deps, body.image, registryAddress);
    await pull(req, res, registry, { ...body, image });
  });

  const recordSchema = componentSchema('PullOperation');
  router.get(PULLS, (req, res) => {
    const options = readOptions(req, recordSchema);
    sendAnswer(req, res, 200, shapeList(operations.list().map((o) => o.record()), options, (record) => record.id));
  });
  router.get(`${PULLS}/:id`, (req, res) => {
    const options = readOptions(req, recordSchema);
    sendAnswer(req, res, 200, shapeOne(operations.get(String(req.params.id)).record(), options));
  });
  return router;
}
