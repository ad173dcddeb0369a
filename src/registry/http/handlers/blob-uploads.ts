// /v2/<name>/blobs/uploads/[<session>]: start (POST, with monolithic `?digest=` and cross-repository `?mount=`),
// chunks (PATCH, 416 when out of order), close (PUT ?digest=), status (GET) and cancel (DELETE). Bodies are streamed.
import type { Request, Response } from 'express';
import { isDigestAlgorithm, isDigest } from '../../digest.js';
import { RegistryError } from '../../registry-error.js';
import { isRepositoryName } from '../../repository-name.js';
import { UploadRangeError, type ChunkPosition, type SiteRegistry } from '../../site-registry.js';
import { parseContentRange, uploadRangeHeader } from '../byte-ranges.js';
import { declaredLength } from '../request-body.js';
import { endEmpty, queryOf, repositoryPath, type RouteHandler } from './route.js';

interface BlobUploadHandlers {
  start: RouteHandler;
  patch: RouteHandler;
  put: RouteHandler;
  status: RouteHandler;
  cancel: RouteHandler;
}

function sessionHeaders(req: Request, res: Response, name: string, id: string, offset: number): void {
  res.setHeader('Location', `${repositoryPath(req, name)}/blobs/uploads/${id}`);
  res.setHeader('Range', uploadRangeHeader(offset));
  res.setHeader('Docker-Upload-UUID', id);
  res.setHeader('Blob-Upload-Session-ID', id);
}

function created(req: Request, res: Response, name: string, digest: string): void {
  res.setHeader('Location', `${repositoryPath(req, name)}/blobs/${digest}`);
  res.setHeader('Docker-Content-Digest', digest);
  endEmpty(res, 201);
}

/** Runs an append; an out-of-order chunk is answered 416 with the session's current Range, per the spec. */
async function withRangeCheck(req: Request, res: Response, name: string, id: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (!(e instanceof UploadRangeError)) throw e;
    sessionHeaders(req, res, name, id, e.offset);
    endEmpty(res, 416);
  }
}

/** The chunk's claimed position; a malformed Content-Range is a 416 like an out-of-order one (spec). */
async function chunkPosition(registry: SiteRegistry, req: Request, name: string, id: string): Promise<ChunkPosition | undefined> {
  const position = parseContentRange(req.headers['content-range']);
  if (position !== 'invalid') return position;
  const { offset } = await registry.uploadProgress(name, id);
  throw new UploadRangeError(offset, 'invalid Content-Range');
}

export function blobUploadHandlers(registry: SiteRegistry): BlobUploadHandlers {
  return {
    start: async (req, res, { name, client }) => {
      const query = queryOf(req);
      const mount = query.get('mount');
      const from = query.get('from');
      // A mount that cannot be done is not an error: the spec falls back to an ordinary upload session.
      if (mount !== null && from !== null && isDigest(mount) && isRepositoryName(from) && (await registry.mountBlob(name, mount, from))) {
        created(req, res, name, mount);
        return;
      }
      const digest = query.get('digest');
      if (digest !== null) {
        const info = await registry.uploadBlob(name, digest, req, declaredLength(req));
        created(req, res, name, info.digest);
        return;
      }
      const algorithm = query.get('digest-algorithm') ?? 'sha256';
      if (!isDigestAlgorithm(algorithm)) throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm ${algorithm.slice(0, 50)}`);
      const session = await registry.startUpload(name, algorithm, client);
      sessionHeaders(req, res, name, session.id, session.offset);
      endEmpty(res, 202);
    },

    patch: async (req, res, { name, reference: id }) => {
      await withRangeCheck(req, res, name, id, async () => {
        const position = await chunkPosition(registry, req, name, id);
        const progress = await registry.appendToUpload(name, id, req, position);
        sessionHeaders(req, res, name, id, progress.offset);
        endEmpty(res, 202);
      });
    },

    put: async (req, res, { name, reference: id }) => {
      const digest = queryOf(req).get('digest');
      if (digest === null) throw new RegistryError('DIGEST_INVALID', 'the digest parameter is required to complete an upload');
      await withRangeCheck(req, res, name, id, async () => {
        const position = await chunkPosition(registry, req, name, id);
        const info = await registry.completeUpload(name, id, digest, req, position);
        created(req, res, name, info.digest);
      });
    },

    status: async (req, res, { name, reference: id }) => {
      const progress = await registry.uploadProgress(name, id);
      sessionHeaders(req, res, name, id, progress.offset);
      endEmpty(res, 204);
    },

    cancel: async (_req, res, { name, reference: id }) => {
      await registry.cancelUpload(name, id);
      endEmpty(res, 204);
    },
  };
}
