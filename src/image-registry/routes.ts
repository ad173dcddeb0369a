// /v1 routes of the image-registry tree: remote-registries configuration and state (with what pull-through met).
import type { Router } from 'express';
import { componentSchema } from '../contract/openapi.js';
import type { ConfigList } from '../config/config-list.js';
import { mountConfigList } from '../http/config-list-routes.js';
import { sendAnswer } from '../http/answer.js';
import { readOptions, shapeList, shapeOne } from '../http/query-options.js';
import type { RemoteRegistry } from './remote-registry.js';
import { filterContent, RemoteRegistryStates } from './remote-registry-state.js';
import type { VerificationLog } from './operations/verification-status.js';
import { strictRouter } from '../http/path-grammar.js';
import type { PullThroughLog } from './mirror/pull-through-log.js';

export function imageRegistryRoutes(registries: ConfigList<RemoteRegistry>, verifications: VerificationLog, pullThrough: PullThroughLog): Router {
  const router = strictRouter();
  mountConfigList<RemoteRegistry>(router, {
    path: '/config/image-registry/remote-registries',
    list: registries,
    keyOf: (r) => r.address,
    answerSchema: 'RemoteRegistryAnswer',
  });

  const states = new RemoteRegistryStates(registries, verifications, pullThrough);
  const stateSchema = componentSchema('RemoteRegistryState');
  router.get('/state/image-registry/remote-registries', async (req, res) => {
    const options = readOptions(req, stateSchema);
    const entries = (await states.list()).map((s) => filterContent(s, options.content));
    sendAnswer(req, res, 200, shapeList(entries, options, (s) => s.address ?? ''));
  });
  router.get('/state/image-registry/remote-registries/:key', async (req, res) => {
    const options = readOptions(req, stateSchema);
    const state = await states.get(String(req.params.key));
    sendAnswer(req, res, 200, shapeOne(filterContent(state, options.content), options));
  });
  return router;
}
