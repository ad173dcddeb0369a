// /v1/config/image-registry/site-retention (the budget and rules, one object) and its state at this Berth.
import type { Router } from 'express';
import type { ConfigObject } from '../../config/config-object.js';
import { componentSchema } from '../../contract/openapi.js';
import { sendAnswer } from '../../http/answer.js';
import { mountConfigObject } from '../../http/config-object-routes.js';
import { strictRouter } from '../../http/path-grammar.js';
import { readOptions, shapeOne } from '../../http/query-options.js';
import type { RetentionRunner } from './retention-runner.js';
import type { SiteRetention } from './site-retention.js';

export function siteRetentionRoutes(retention: ConfigObject<SiteRetention>, runner: RetentionRunner): Router {
  const router = strictRouter();
  mountConfigObject(router, { path: '/config/image-registry/site-retention', object: retention, answerSchema: 'SiteRetentionAnswer' });
  const stateSchema = componentSchema('SiteRetentionState');
  router.get('/state/image-registry/site-retention', async (req, res) => {
    const options = readOptions(req, stateSchema);
    sendAnswer(req, res, 200, shapeOne(await runner.state(), options));
  });
  return router;
}
