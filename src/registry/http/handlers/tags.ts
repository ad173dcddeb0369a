// /v2/<name>/tags/list: the repository's tags in byte order, paged with `n`/`last` and a `Link` to the next page.
import type { RegistryContent } from '../../registry-content.js';
import { nextPageLink, parsePageRequest } from '../paging.js';
import { queryOf, repositoryPath, type RouteHandler } from './route.js';

export function tagHandlers(content: RegistryContent): { list: RouteHandler } {
  return {
    list: async (req, res, { name }) => {
      const page = parsePageRequest(queryOf(req));
      const result = await content.listTags(name, page.limit, page.last);
      if (result.next !== undefined) res.setHeader('Link', nextPageLink(`${repositoryPath(req, name)}/tags/list`, page.limit, result.next));
      res.status(200).json({ name, tags: result.items });
    },
  };
}
