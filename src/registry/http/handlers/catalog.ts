// /v2/_catalog: repositories holding at least one manifest, in byte order, paged like tags/list.
import type { Request, Response } from 'express';
import type { SiteRegistry } from '../../site-registry.js';
import { nextPageLink, parsePageRequest } from '../paging.js';
import { queryOf } from './route.js';

export function catalogHandlers(registry: SiteRegistry): { list: (req: Request, res: Response) => Promise<void> } {
  return {
    list: async (req, res) => {
      const page = parsePageRequest(queryOf(req));
      const result = await registry.listCatalog(page.limit, page.last);
      if (result.next !== undefined) res.setHeader('Link', nextPageLink(`${req.baseUrl}/_catalog`, page.limit, result.next));
      res.status(200).json({ repositories: result.items });
    },
  };
}
