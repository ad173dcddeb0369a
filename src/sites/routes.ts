// /v1 routes of sites: the sites list (/config/sites), their state (/state/sites), this Berth's replication state
// (/state/system/replication), and the tower's change feed and snapshot that sites follow. Thin: parse, call, answer.
import { Router, type Request } from 'express';
import type { ConfigList } from '../config/config-list.js';
import { componentSchema } from '../contract/openapi.js';
import { isBerthError } from '../errors.js';
import { sendAnswer } from '../http/answer.js';
import { mountConfigList } from '../http/config-list-routes.js';
import { readOptions, shapeList, shapeOne } from '../http/query-options.js';
import type { ChangeFeed } from './change-feed.js';
import type { Site } from './site.js';
import type { SiteContacts } from './site-contacts.js';
import { filterSiteContent, type SiteStates } from './site-states.js';

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
  const router = Router();
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

  /** Records the call as the contact of the site it names, when that is a configured site. */
  const recordContact = async (req: Request, replicatedRevision: number): Promise<() => void> => {
    const name = req.query['site-name'];
    if (typeof name !== 'string') return () => {};
    try {
      await parts.sites.get(name);
    } catch (e) {
      // Not one of ours (or not yet): the feed is read all the same, but nothing is recorded for it.
      if (isBerthError(e) && e.kind === 'not-found') return () => {};
      throw e;
    }
    return parts.contacts.begin(name, replicatedRevision);
  };

  router.get('/state/system/changes', async (req, res) => {
    const after = integerParameter(req, 'after', 0);
    const ended = await recordContact(req, after);
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
    const snapshot = await parts.feed.snapshot();
    const ended = await recordContact(req, snapshot.revision);
    ended();
    sendAnswer(req, res, 200, { revision: snapshot.revision, entries: snapshot.entries });
  });
  return router;
}
