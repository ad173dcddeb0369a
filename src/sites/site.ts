// A site's configuration at the control tower: where its Berth API is, which CA to trust there, and which secret of
// the tower's secret store holds the token the tower presents to it. One entry of the `/v1/config/sites` list.
import type { SchemaProblem } from '../contract/openapi.js';
import type { ConfigListSpec } from '../config/config-list.js';
import { caCertProblem } from '../image-registry/ca-cert.js';
import { labelKeyProblem, type Labels } from './selector.js';
import { SITE_ENTRY_PREFIX } from './replicated-keys.js';

export interface Site {
  name: string;
  'api-url': string;
  'ca-cert'?: string;
  /** A KV version 2 mount of the tower's secret store. */
  vault: string;
  /** A secret in that mount whose field `token` is the bearer token for the site. */
  secret: string;
  /** What selectors match (selector.ts); the contract has checked their form. */
  labels?: Labels;
}

/** Outside `config/image-registry/`, so the sites list never replicates as a whole (replicated-keys.ts). */
export const SITES_PREFIX = SITE_ENTRY_PREFIX;

/**
 * Why `text` is not a usable site API URL, or undefined. The contract's pattern has checked its rough shape.
 * `allowHttp` (BERTH_SITES_ALLOW_HTTP): the tower presents its token for the site there, so clear text is opt-in.
 */
export function apiUrlProblem(text: string, allowHttp: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol === 'http:' && !allowHttp) return "must be an https:// URL: the tower's token for the site would travel in clear over http:// (BERTH_SITES_ALLOW_HTTP=true allows it)";
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (url.username || url.password) return 'must not hold user info (the token is in the secret store)';
  if (url.search || url.hash) return 'must not have a query or fragment';
  return undefined;
}

function siteProblems(ownName: string, allowHttp: boolean): (site: Site) => SchemaProblem[] {
  return (site) => {
    const problems: SchemaProblem[] = [];
    // `?site=<own name>` is served by this Berth itself, so a site of that name could never be reached.
    if (site.name === ownName) problems.push({ pointer: '/name', message: `'${ownName}' is the name of this Berth itself (BERTH_SITE_NAME)` });
    const urlProblem = apiUrlProblem(site['api-url'], allowHttp);
    if (urlProblem) problems.push({ pointer: '/api-url', message: urlProblem });
    for (const key of Object.keys(site.labels ?? {})) {
      // The contract checks the form of keys; what it cannot say is that `name` is taken and how long a prefix is.
      const problem = labelKeyProblem(key);
      if (problem) problems.push({ pointer: `/labels/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, message: `label '${key}': ${problem}` });
    }
    const caCert = site['ca-cert'];
    if (caCert !== undefined) {
      const caProblem = caCertProblem(caCert);
      if (caProblem) problems.push({ pointer: '/ca-cert', message: caProblem });
      else if (!urlProblem && new URL(site['api-url']).protocol !== 'https:') {
        problems.push({ pointer: '/ca-cert', message: 'applies only to an https:// api-url' });
      }
    }
    return problems;
  };
}

export function siteSpec(ownName: string, allowHttp: boolean): ConfigListSpec<Site> {
  return {
    noun: 'site',
    prefix: SITES_PREFIX,
    keyField: 'name',
    schema: 'Site',
    keyedLists: {},
    semanticProblems: siteProblems(ownName, allowHttp),
  };
}
