// /v1 routes of the image-registry tree: remote-registries configuration and state (with what pull-through met).
import type { Router } from 'express';
import type { ConfigList } from '../config/config-list.js';
import { mountConfigList } from '../http/config-list-routes.js';
import { mountStateRoutes } from '../http/state-routes.js';
import type { RemoteRegistry } from './remote-registry.js';
import { RemoteRegistryStates, type RemoteRegistryState } from './remote-registry-state.js';
import type { VerificationLog } from './verification-status.js';
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
  mountStateRoutes<RemoteRegistryState>(router, {
    path: '/state/image-registry/remote-registries',
    stateSchema: 'RemoteRegistryState',
    configSchema: 'RemoteRegistry',
    keyField: 'address',
    list: () => states.list(),
    get: (address) => states.get(address),
  });
  return router;
}
