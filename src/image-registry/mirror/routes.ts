// /v1/state/image-registry/containerd-hosts: the hosts.toml a site's containerd needs for each mirrored registry.
import type { Router } from 'express';
import type { ConfigList } from '../../config/config-list.js';
import { componentSchema } from '../../contract/openapi.js';
import { sendAnswer } from '../../http/answer.js';
import { strictRouter } from '../../http/path-grammar.js';
import { readOptions, shapeOne } from '../../http/query-options.js';
import { originOf } from '../../registry/http/access.js';
import type { RemoteRegistry } from '../remote-registry.js';
import { containerdHosts } from './containerd-hosts.js';

export interface ContainerdHostsOptions {
  /** BERTH_REGISTRY_MIRROR_URL: how runtimes reach this site registry; else the origin of the request. */
  url?: string;
  /** BERTH_REGISTRY_MIRROR_CA: the CA of the site registry's https certificate. */
  caCertPem?: string;
  anonymousPull: boolean;
  siteName: string;
}

export function containerdHostsRoutes(registries: ConfigList<RemoteRegistry>, options: ContainerdHostsOptions): Router {
  const router = strictRouter();
  const schema = componentSchema('ContainerdHosts');
  router.get('/state/image-registry/containerd-hosts', async (req, res) => {
    const read = readOptions(req, schema);
    const endpoint = {
      url: options.url ?? originOf(req),
      ...(options.caCertPem !== undefined ? { caCertPem: options.caCertPem } : {}),
      anonymousPull: options.anonymousPull,
    };
    const hosts = containerdHosts((await registries.list()).map((r) => r.value), endpoint, options.siteName);
    sendAnswer(req, res, 200, shapeOne(hosts, read));
  });
  return router;
}
