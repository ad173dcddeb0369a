// /v1 routes of sites: the sites list (/config/sites), their state (/state/sites), this Berth's replication state
// (/state/system/replication), and the tower's change feed and snapshot that sites follow. Thin: parse, call, answer.
import type { Router, Request } from 'express';
import type { ConfigList } from '../config/config-list.js';
import { componentSchema } from '../contract/openapi.js';
import { forbidden, isBerthError } from '../errors.js';
import { sendAnswer } from '../http/answer.js';
import { mountConfigList } from '../http/config-list-routes.js';
import { readOptions, shapeList, shapeOne } from '../http/query-options.js';
import type { ChangeFeed } from './change-feed.js';
import type { Site } from './site.js';
import type { SiteContacts } from './site-contacts.js';
import { filterSiteContent, type SiteStates } from './site-states.js';
import { strictRouter } from '../http/path-grammar.js';

/** The state of this Berth's replication, as `/v1/state/system/replication` answers it. */
export type ReplicationStateAnswer = Record<string, string | number | boolean>;

export interface SiteRouteParts {
  sites: ConfigList<Site>;
  states: SiteStates;
  contacts: SiteContacts;
  feed: ChangeFeed;
  replicationState(): Promise<ReplicationStateAnswer>;
}

/** An integer query parameter the contract has checked (and the validator may have made a number); its default when absent. */
const integerParameter = (req: Request, name: string, fallback: number): number => {
  const value: unknown = req.query[name];
  return typeof value === 'number' || typeof value === 'string' ? Number(value) : fallback;
};

/** Ends `signal` when the client goes away, so a long-poll stops waiting for nobody. */
function clientGone(req: Request): AbortSignal {
  const abort = new AbortController();
  req.res!.once('close', () => abort.abort());
  return abort.signal;
}

export function siteRoutes(parts: SiteRouteParts): Router {
  const router = strictRouter();
  mountConfigList<Site>(router, { path: '/config/sites', list: parts.sites, keyOf: (s) => s.name, answerSchema: 'SiteAnswer' });

  const stateSchema = componentSchema('SiteState');
  router.get('/state/sites', async (req, res) => {
    const options = readOptions(req, stateSchema);
    const states = (await parts.states.list()).map((s) => filterSiteContent(s, options.content));
    sendAnswer(req, res, 200, shapeList(states, options, (s) => s.name ?? ''));
  });
  router.get('/state/sites/:key', async (req, res) => {
    const options = readOptions(req, stateSchema);
    const state = await parts.states.get(String(req.params.key));
    sendAnswer(req, res, 200, shapeOne(filterSiteContent(state, options.content), options));
  });

  const replicationSchema = componentSchema('ReplicationState');
  router.get('/state/system/replication', async (req, res) => {
    const options = readOptions(req, replicationSchema);
    sendAnswer(req, res, 200, shapeOne(await parts.replicationState(), options));
  });

  /**
   * The configured site this call is the contact of: the site whose token made it (role `site`). `site-name` must
   * then be that site; from any other token it is refused, so nobody else can make a site look connected.
   */
  const contactOf = async (req: Request): Promise<string | undefined> => {
    const named = req.query['site-name'];
    const principal = req.principal!;
    if (principal.role !== 'site') {
      if (named !== undefined) throw forbidden(`site-name: only a site's own token (role 'site') records a site's contact; this is role '${principal.role}'`);
      return undefined;
    }
    const site = principal.site!;
    if (named !== undefined && named !== site) throw forbidden(`site-name: this token is bound to site '${site}', not '${String(named)}'`);
    try {
      await parts.sites.get(site);
      return site;
    } catch (e) {
      // Not one of ours (or not yet): the feed is read all the same, but nothing is recorded for it.
      if (isBerthError(e) && e.kind === 'not-found') return undefined;
      throw e;
    }
  };
  const noContact = () => {};

  router.get('/state/system/changes', async (req, res) => {
    const after = integerParameter(req, 'after', 0);
    const site = await contactOf(req);
    const ended = site ? parts.contacts.begin(site, after) : noContact;
    try {
      const page = await parts.feed.read(after, {
        limit: integerParameter(req, 'limit', 500),
        waitMs: integerParameter(req, 'wait', 25) * 1000,
        signal: clientGone(req),
      });
      // Who made a change stays at the tower: a site records its copies as replication, and the feed's shape stays as sites know it.
      const changes = page.changes.map(({ writeContext: _who, ...change }) => change);
      sendAnswer(req, res, 200, { revision: page.revision, 'current-revision': page.currentRevision, changes });
    } finally {
      ended();
    }
  });

  router.get('/state/system/snapshot', async (req, res) => {
    const site = await contactOf(req);
    const snapshot = await parts.feed.snapshot();
    if (site) parts.contacts.begin(site, snapshot.revision)();
    sendAnswer(req, res, 200, { revision: snapshot.revision, entries: snapshot.entries });
  });
  return router;
}
