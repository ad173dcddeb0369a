// Which parts of the configuration store flow from the control tower to its sites, and where a site keeps the
// tower revision it has applied. Tokens, the sites list and a site's own bookkeeping never replicate; of the sites
// list, each site gets its own entry only, and of that only its name and labels (to know which desired images are
// meant for it), never another site's.

/** Store key prefixes that replicate to every site: the image-registry configuration tree. */
export const REPLICATED_PREFIXES: readonly string[] = ['config/image-registry/'];

export const isReplicated = (key: string): boolean => REPLICATED_PREFIXES.some((prefix) => key.startsWith(prefix));

/** At a site: `{revision, at}` of the last tower revision applied, written after the changes up to it. */
export const TOWER_REVISION_KEY = 'replication/tower-revision';

/** The tower's store key of a site's entry in the sites list (site.ts keeps the list under this prefix). */
export const SITE_ENTRY_PREFIX = 'config/sites/';
export const siteEntryKey = (site: string): string => SITE_ENTRY_PREFIX + site;

/** At a site: its own entry of the tower's sites list as the tower sent it, `{name, labels}`. */
export const OWN_SITE_KEY = 'replication/own-site';

/** What of its own entry a site is sent: the selectors' inputs, not where the tower reaches it or its token. */
export function ownSiteView(value: unknown): { name: string; labels?: Record<string, string> } | undefined {
  const entry = value as { name?: unknown; labels?: unknown } | null | undefined;
  if (!entry || typeof entry.name !== 'string') return undefined;
  return { name: entry.name, ...(entry.labels && typeof entry.labels === 'object' ? { labels: entry.labels as Record<string, string> } : {}) };
}
