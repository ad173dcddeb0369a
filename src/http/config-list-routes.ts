// The HTTP face of a ConfigList: POST/GET on the list, GET/PUT/PATCH/DELETE on an entry, with the API
// conventions (validate, fields, keys, count, ETag preconditions, both PATCH forms). Thin: parse, call, answer.
import type { Request, Response, Router } from 'express';
import type { ConfigList, Patch } from '../config/config-list.js';
import type { JsonPatchOperation } from '../patch/json-patch.js';
import { componentSchema } from '../contract/openapi.js';
import { checkPreconditions, isNotModified } from '../store/preconditions.js';
import { sendAnswer, sendEmpty } from './answer.js';
import { etagOf, readPreconditions } from './preconditions.js';
import { readOptions, shapeList, shapeOne } from './query-options.js';
import { writeContextOf } from './write-context.js';

export interface ConfigListRoutesSpec<T> {
  /** Path of the list relative to the router, e.g. `/config/image-registry/remote-registries`. */
  path: string;
  list: ConfigList<T & object>;
  keyOf(entry: T): string;
  /** Contract schema of one entry in an answer (what `fields` may select). */
  answerSchema: string;
}

/** A path segment for a key: `:`, `[`, `]` stay readable where they are safe, everything else is escaped. */
export const keySegment = (key: string) => encodeURIComponent(key).replace(/%3A/g, ':');

const locationOf = (req: Request, path: string, key: string) => `${req.baseUrl}${path}/${keySegment(key)}`;

function written(res: Response, revision: number | undefined): void {
  if (revision !== undefined) res.set('ETag', etagOf(revision));
}

export function mountConfigList<T>(router: Router, spec: ConfigListRoutesSpec<T>): void {
  const { path, list } = spec;
  const answerSchema = componentSchema(spec.answerSchema);
  const keyParam = (req: Request) => String(req.params.key);

  router.get(path, async (req, res) => {
    const options = readOptions(req, answerSchema);
    const entries = await list.list();
    if (options.validateOnly) return sendEmpty(res, 204);
    sendAnswer(req, res, 200, shapeList(entries.map((e) => e.value as T), options, spec.keyOf));
  });

  router.post(path, async (req, res) => {
    const options = readOptions(req);
    const outcome = await list.create(req.body, { validateOnly: options.validateOnly, context: writeContextOf(req) });
    if (options.validateOnly) return sendEmpty(res, 204);
    written(res, outcome.revision);
    res.set('Location', locationOf(req, path, spec.keyOf(req.body as T)));
    sendEmpty(res, 201);
  });

  router.get(`${path}/:key`, async (req, res) => {
    const options = readOptions(req, answerSchema);
    const found = await list.get(keyParam(req));
    const preconditions = readPreconditions(req);
    if (isNotModified(found.revision, preconditions)) {
      res.set('ETag', etagOf(found.revision));
      return sendEmpty(res, 304);
    }
    if (preconditions?.ifMatch) checkPreconditions(`'${keyParam(req)}'`, found.revision, { ifMatch: preconditions.ifMatch });
    if (options.validateOnly) return sendEmpty(res, 204);
    res.set('ETag', etagOf(found.revision));
    sendAnswer(req, res, 200, shapeOne(found.value, options));
  });

  router.put(`${path}/:key`, async (req, res) => {
    const options = readOptions(req);
    const outcome = await list.replace(keyParam(req), req.body, { validateOnly: options.validateOnly, preconditions: readPreconditions(req), context: writeContextOf(req) });
    if (options.validateOnly) return sendEmpty(res, 204);
    written(res, outcome.revision);
    if (outcome.created) res.set('Location', locationOf(req, path, keyParam(req)));
    sendEmpty(res, outcome.created ? 201 : 204);
  });

  router.patch(`${path}/:key`, async (req, res) => {
    const options = readOptions(req);
    const isJsonPatch = req.is('application/json-patch+json') === 'application/json-patch+json';
    const patch: Patch = isJsonPatch ? { kind: 'json-patch', operations: req.body as JsonPatchOperation[] } : { kind: 'merge', body: req.body };
    const outcome = await list.patch(keyParam(req), patch, { validateOnly: options.validateOnly, preconditions: readPreconditions(req), context: writeContextOf(req) });
    if (options.validateOnly) return sendEmpty(res, 204);
    written(res, outcome.revision);
    sendEmpty(res, 204);
  });

  router.delete(`${path}/:key`, async (req, res) => {
    const options = readOptions(req);
    await list.delete(keyParam(req), { validateOnly: options.validateOnly, preconditions: readPreconditions(req), context: writeContextOf(req) });
    sendEmpty(res, 204);
  });
}
