// /v1/config/system/tokens: API tokens as a resource (admin only; the access layer enforces that).
import type { Router } from 'express';
import { componentSchema } from '../contract/openapi.js';
import { sendAnswer, sendEmpty } from '../http/answer.js';
import { keySegment } from '../http/config-list-routes.js';
import { strictRouter } from '../http/path-grammar.js';
import { readOptions, shapeList, shapeOne } from '../http/query-options.js';
import { writeContextOf } from '../http/write-context.js';
import type { TokenRegistry, TokenRequest } from './tokens.js';

const PATH = '/config/system/tokens';

export function tokenRoutes(tokens: TokenRegistry): Router {
  const router = strictRouter();
  const answerSchema = componentSchema('TokenInfo');

  router.get(PATH, async (req, res) => {
    const options = readOptions(req, answerSchema);
    sendAnswer(req, res, 200, shapeList(await tokens.list(), options, (t) => t.name));
  });
  router.post(PATH, async (req, res) => {
    const options = readOptions(req);
    const body = req.body as TokenRequest;
    const created = await tokens.create(body, { validateOnly: options.validateOnly, context: writeContextOf(req) });
    if (options.validateOnly) return sendEmpty(res, 204);
    res.set('Location', `${req.baseUrl}${PATH}/${keySegment(created.name)}`);
    // The token itself: shown in this answer and never again. Do not cache it anywhere on the way.
    res.set('Cache-Control', 'no-store');
    sendAnswer(req, res, 201, created);
  });
  router.get(`${PATH}/:name`, async (req, res) => {
    const options = readOptions(req, answerSchema);
    sendAnswer(req, res, 200, shapeOne(await tokens.get(String(req.params.name)), options));
  });
  router.delete(`${PATH}/:name`, async (req, res) => {
    const options = readOptions(req);
    await tokens.revoke(String(req.params.name), { validateOnly: options.validateOnly, context: writeContextOf(req) });
    sendEmpty(res, 204);
  });
  return router;
}
