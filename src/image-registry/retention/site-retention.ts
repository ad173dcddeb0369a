// The site retention: how many bytes each site's registry may hold, and what eviction keeps. One object at
// `config/image-registry/site-retention`, so it replicates from the control tower to every site; `sites` overrides
// the general settings for sites by name, and each Berth applies the settings of its own name (BERTH_SITE_NAME).
import type { ConfigObjectSpec } from '../../config/config-object.js';

export interface SiteRetentionSettings {
  'budget-bytes'?: number;
  'interval-seconds'?: number;
  'keep-repositories'?: string[];
}

export interface SiteRetention extends SiteRetentionSettings {
  sites?: Array<SiteRetentionSettings & { name: string }>;
}

export const SITE_RETENTION_KEY = 'config/image-registry/site-retention';
export const DEFAULT_RETENTION_INTERVAL_SECONDS = 300;

export const siteRetentionSpec: ConfigObjectSpec<SiteRetention> = {
  noun: 'site retention',
  key: SITE_RETENTION_KEY,
  schema: 'SiteRetention',
  keyedLists: { sites: 'name' },
};

/** What applies at the site `siteName`: its entry of `sites` over the general settings. */
export interface EffectiveRetention {
  budgetBytes?: number;
  intervalSeconds: number;
  keepRepositories?: string[];
}

export function effectiveRetention(retention: SiteRetention | undefined, siteName: string): EffectiveRetention {
  const own = retention?.sites?.find((s) => s.name === siteName);
  const pick = <K extends keyof SiteRetentionSettings>(key: K): SiteRetentionSettings[K] => (own && own[key] !== undefined ? own[key] : retention?.[key]);
  const budgetBytes = pick('budget-bytes');
  const keepRepositories = pick('keep-repositories');
  return {
    ...(budgetBytes !== undefined ? { budgetBytes } : {}),
    intervalSeconds: pick('interval-seconds') ?? DEFAULT_RETENTION_INTERVAL_SECONDS,
    ...(keepRepositories !== undefined ? { keepRepositories } : {}),
  };
}
