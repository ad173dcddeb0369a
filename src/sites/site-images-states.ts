// The readiness of desired images (`/v1/state/image-registry/site-images`). At the control tower: for each entry, the
// sites its selector picks among the tower's sites and, from each one's last report, its state: `ready` only when
// it reported every image ready for this very version of the entry; `unknown` when it is out of contact, whatever
// it said last. At a site: the same shape for the site alone, from its own reconciler.
import type { ConfigList, Versioned } from '../config/config-list.js';
import { filterByContent, type ContentFilter } from '../http/query-options.js';
import { matches, parseSelector } from './selector.js';
import type { Site } from './site.js';
import type { SiteContacts } from './site-contacts.js';
import type { DesiredImageState, DesiredImageStateName, SelectedEntry } from './site-image-reconciler.js';
import { configDigest, type SiteImages } from './site-images.js';
import type { SiteReports } from './site-reports.js';

export interface SiteImagesSiteState {
  site: string;
  state: DesiredImageStateName | 'unknown';
  connected?: boolean;
  'last-contact'?: string;
  'last-report'?: string;
  'reported-state'?: DesiredImageStateName;
  images?: DesiredImageState[];
}

export type SiteImagesState = SiteImages & {
  'selected-sites': number;
  'ready-sites': number;
  summary: string;
  'site-states': SiteImagesSiteState[];
};

export interface SiteImagesStates {
  list(): Promise<SiteImagesState[]>;
  get(name: string): Promise<SiteImagesState>;
}

const CONFIG_FIELDS: readonly string[] = ['name', 'description', 'sites', 'images'];

/** `content=config|nonconfig|all`; the key (`name`) is always kept. */
export const filterSiteImagesContent = (state: SiteImagesState, content: ContentFilter): Partial<SiteImagesState> =>
  filterByContent(state, content, 'name', CONFIG_FIELDS);

const SEVERITY: readonly DesiredImageStateName[] = ['failed', 'pulling', 'pending', 'ready'];

/** A site's state for an entry: its worst image's (ready only when every image is). */
export const overallState = (images: readonly DesiredImageState[]): DesiredImageStateName =>
  SEVERITY.find((state) => images.some((i) => i.state === state)) ?? 'ready';

function withSiteStates(entry: SiteImages, states: SiteImagesSiteState[]): SiteImagesState {
  const ready = states.filter((s) => s.state === 'ready').length;
  return { ...entry, 'selected-sites': states.length, 'ready-sites': ready, summary: `${ready} of ${states.length} selected sites ready`, 'site-states': states };
}

/** At the control tower: from the sites list, their contacts and their reports. */
export class TowerSiteImagesStates implements SiteImagesStates {
  constructor(
    private readonly entries: ConfigList<SiteImages>,
    private readonly sites: ConfigList<Site>,
    private readonly contacts: SiteContacts,
    private readonly reports: SiteReports,
  ) {}

  private siteState(site: string, entry: SiteImages, digest: string): SiteImagesSiteState {
    const contact = this.contacts.get(site);
    const record = this.reports.get(site);
    // Only a report on this version of the entry counts: an older one says nothing about what is asked now.
    const reported = record?.report['site-images'].find((e: SelectedEntry) => e.name === entry.name && e['config-digest'] === digest);
    const state = reported ? overallState(reported.images) : 'pending';
    const known = {
      ...(contact ? { 'last-contact': contact.lastContact.toISOString() } : {}),
      ...(record ? { 'last-report': record.at.toISOString() } : {}),
      ...(reported ? { images: reported.images } : {}),
    };
    if (!contact?.connected) return { site, state: 'unknown', connected: false, ...(reported ? { 'reported-state': state } : {}), ...known };
    return { site, state, connected: true, ...known };
  }

  private stateOf({ value: entry }: Versioned<SiteImages>, sites: Site[]): SiteImagesState {
    const selector = parseSelector(entry.sites);
    const digest = configDigest(entry);
    const states = sites.filter((site) => matches(selector, site)).map((site) => this.siteState(site.name, entry, digest));
    return withSiteStates(entry, states);
  }

  async list(): Promise<SiteImagesState[]> {
    const [entries, sites] = await Promise.all([this.entries.list(), this.sites.list()]);
    const values = sites.map((s) => s.value);
    this.reports.retain(new Set(values.map((s) => s.name)));
    return entries.map((e) => this.stateOf(e, values));
  }

  async get(name: string): Promise<SiteImagesState> {
    const [entry, sites] = await Promise.all([this.entries.get(name), this.sites.list()]);
    return this.stateOf(entry, sites.map((s) => s.value));
  }
}

/** At a site: from its own reconciler, the site alone. */
export class LocalSiteImagesStates implements SiteImagesStates {
  constructor(
    private readonly entries: ConfigList<SiteImages>,
    private readonly siteName: string,
    private readonly selected: () => SelectedEntry[],
  ) {}

  private stateOf(entry: SiteImages): SiteImagesState {
    const here = this.selected().find((s) => s.name === entry.name);
    return withSiteStates(entry, here ? [{ site: this.siteName, state: overallState(here.images), images: here.images }] : []);
  }

  async list(): Promise<SiteImagesState[]> {
    return (await this.entries.list()).map((e) => this.stateOf(e.value));
  }

  async get(name: string): Promise<SiteImagesState> {
    return this.stateOf((await this.entries.get(name)).value);
  }
}
