// The state of a site at the control tower: its configuration plus what the tower knows of it (non-config):
// connected, last-contact, replicated-revision and lag (the tower's revision minus the site's).
import type { ConfigList } from '../config/config-list.js';
import type { ConfigStore } from '../store/config-store.js';
import { filterByContent, type ContentFilter } from '../http/query-options.js';
import type { Site } from './site.js';
import type { SiteContacts } from './site-contacts.js';
import { matches, type Selector } from './selector.js';

export interface SiteNonConfig {
  connected: boolean;
  'last-contact'?: string;
  'replicated-revision'?: number;
  lag?: number;
}

export type SiteState = Site & SiteNonConfig;

export interface SiteStateQuery {
  selector?: Selector | undefined;
  after?: string | undefined;
  limit?: number | undefined;
}

const CONFIG_FIELDS: readonly string[] = ['name', 'api-url', 'ca-cert', 'vault', 'secret', 'labels'];

/** `content=config|nonconfig|all`; the key (`name`) is always kept. */
export const filterSiteContent = (state: SiteState, content: ContentFilter): Partial<SiteState> => filterByContent(state, content, 'name', CONFIG_FIELDS);

export class SiteStates {
  constructor(
    private readonly sites: ConfigList<Site>,
    private readonly contacts: SiteContacts,
    private readonly store: ConfigStore,
  ) {}

  private toState(site: Site, towerRevision: number): SiteState {
    const contact = this.contacts.get(site.name);
    if (!contact) return { ...site, connected: false };
    return {
      ...site,
      connected: contact.connected,
      'last-contact': contact.lastContact.toISOString(),
      'replicated-revision': contact.replicatedRevision,
      lag: Math.max(0, towerRevision - contact.replicatedRevision),
    };
  }

  /** The sites `selector` picks (all without one) in name order, after `after`, at most `limit` of them. */
  async list(query: SiteStateQuery = {}): Promise<{ states: SiteState[]; more: boolean }> {
    const [entries, revision] = await Promise.all([this.sites.list(), this.store.revision()]);
    this.contacts.retain(new Set(entries.map((e) => e.value.name)));
    const { selector, after, limit } = query;
    const states: SiteState[] = [];
    for (const { value: site } of entries) {
      if (after !== undefined && site.name <= after) continue;
      if (selector && !matches(selector, site)) continue;
      if (limit !== undefined && states.length === limit) return { states, more: true };
      states.push(this.toState(site, revision));
    }
    return { states, more: false };
  }

  async get(name: string): Promise<SiteState> {
    const [entry, revision] = await Promise.all([this.sites.get(name), this.store.revision()]);
    return this.toState(entry.value, revision);
  }
}
