// The configured sites a selector picks, at the tower. A selector that names sites outright (`name=x`,
// `name in (x, y)`) and names one the tower does not have is a typo worth a 404, not an empty selection.
import type { ConfigList } from '../config/config-list.js';
import { notFound } from '../errors.js';
import { matches, namedSites, type Selector } from './selector.js';
import type { Site } from './site.js';

export async function selectSites(sites: ConfigList<Site>, selector: Selector): Promise<Site[]> {
  const all = (await sites.list()).map((e) => e.value);
  const known = new Set(all.map((s) => s.name));
  const unknown = namedSites(selector).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw notFound(`selector '${selector.text}' names ${unknown.map((n) => `'${n}'`).join(', ')}, not in /v1/config/sites`, { sites: unknown });
  }
  return all.filter((site) => matches(selector, site));
}
