// The HTTP face of a ConfigObject: GET/PUT/PATCH/DELETE on its one path, with the API conventions (validate, fields,
// ETag preconditions, both PATCH forms) as config-list-routes.ts gives them to the entries of a list.
import type { Request, Router } from 'express';
import type { Patch } from '../config/config-list.js';
import type { ConfigObject } from '../config/config-object.js';
import type { JsonPatchOperation } from '../patch/json-patch.js';
import { componentSchema } from '../contract/openapi.js';
import { checkPreconditions, isNotModified } from '../store/preconditions.js';
import { sendAnswer, sendEmpty } from './answer.js';
import { etagOf, readPreconditions } from './preconditions.js';
import { readOptions, shapeOne } from './query-options.js';
import { writeContextOf } from './write-context.js';

export interface ConfigObjectRoutesSpec<T extends object> {
  /** Its path relative to the router, e.g. `/config/image-registry/site-retention`. */
  path: string;
  object: ConfigObject<T>;
  /** Contract schema of it in an answer (what `fields` may select). */
  answerSchema: string;
}

const writeOptions = (req: Request) => ({ validateOnly: readOptions(req).validateOnly, preconditions: readPreconditions(req), context: writeContextOf(req) });

export function mountConfigObject<T extends object>(router: Router, spec: ConfigObjectRoutesSpec<T>): void {
  const { path, object } = spec;
  const answerSchema = componentSchema(spec.answerSchema);

  router.get(path, async (req, res) => {
    const options = readOptions(req, answerSchema);
    const found = await object.get();
    const preconditions = readPreconditions(req);
    if (isNotModified(found.revision, preconditions)) {
      res.set('ETag', etagOf(found.revision));
      return sendEmpty(res, 304);
    }
    if (preconditions?.ifMatch) checkPreconditions(`the ${object.spec.noun}`, found.revision, { ifMatch: preconditions.ifMatch });
    if (options.validateOnly) return sendEmpty(res, 204);
    res.set('ETag', etagOf(found.revision));
    sendAnswer(req, res, 200, shapeOne(found.value, options));
  });

  router.put(path, async (req, res) => {
    const options = writeOptions(req);
    const outcome = await object.replace(req.body, options);
    if (options.validateOnly) return sendEmpty(res, 204);
    if (outcome.revision !== undefined) res.set('ETag', etagOf(outcome.revision));
    if (outcome.created) res.set('Location', `${req.baseUrl}${path}`);
    sendEmpty(res, outcome.created ? 201 : 204);
  });

  router.patch(path, async (req, res) => {
    const options = writeOptions(req);
    const isJsonPatch = req.is('application/json-patch+json') === 'application/json-patch+json';
    const patch: Patch = isJsonPatch ? { kind: 'json-patch', operations: req.body as JsonPatchOperation[] } : { kind: 'merge', body: req.body };
    const outcome = await object.patch(patch, options);
    if (options.validateOnly) return sendEmpty(res, 204);
    if (outcome.revision !== undefined) res.set('ETag', etagOf(outcome.revision));
    sendEmpty(res, 204);
  });

  router.delete(path, async (req, res) => {
    await object.delete(writeOptions(req));
    sendEmpty(res, 204);
  });
}
