// /v2/<name>/referrers/<digest>: an OCI image index of the manifests whose subject is <digest>, optionally
// filtered by `artifactType` (announced with OCI-Filters-Applied). Never a 404: no referrers is an empty index.
import { MediaTypes } from '../../../image-spec/index.js';
import type { SiteRegistry } from '../../site-registry.js';
import { queryOf, type RouteHandler } from './route.js';

export function referrerHandlers(registry: SiteRegistry): { list: RouteHandler } {
  return {
    list: async (req, res, { name, reference: digest }) => {
      const artifactType = queryOf(req).get('artifactType') || undefined;
      const descriptors = await registry.listReferrers(name, digest, artifactType);
      if (artifactType !== undefined) res.setHeader('OCI-Filters-Applied', 'artifactType');
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: descriptors }));
      res.status(200).setHeader('Content-Type', MediaTypes.ociIndex);
      res.setHeader('Content-Length', String(body.byteLength));
      res.end(body);
    },
  };
}
