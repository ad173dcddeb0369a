// Which parts of the configuration store flow from the control tower to its sites, and where a site keeps the
// tower revision it has applied. Tokens, the sites list and a site's own bookkeeping never replicate.

/** Store key prefixes that replicate: the image-registry configuration tree. */
export const REPLICATED_PREFIXES: readonly string[] = ['config/image-registry/'];

export const isReplicated = (key: string): boolean => REPLICATED_PREFIXES.some((prefix) => key.startsWith(prefix));

/** At a site: `{revision, at}` of the last tower revision applied, written after the changes up to it. */
export const TOWER_REVISION_KEY = 'replication/tower-revision';
