// /v1 routes of sites: the sites list (/config/sites), their state (/state/sites), desired images for groups of sites
// and their readiness (/config and /state/image-registry/site-images), this Berth's replication state
// (/state/system/replication), and the tower's change feed, snapshot and site reports that sites send and follow.
// Thin: parse, call, answer.
import type { Request, Response, Router } from 'express';
import type { ConfigList } from '../config/config-list.js';
import { componentSchema } from '../contract/openapi.js';
import { forbidden, invalidInput, isBerthError, notFound } from '../errors.js';
import { rewriteQuery } from '../http/raw-query.js';
import { parseSelector } from './selector.js';
import type { SiteImages } from './site-images.js';
import { filterSiteImagesContent, type SiteImagesStates } from './site-images-states.js';
import type { SiteReport, SiteReports } from './site-reports.js';
import { OFFERED, sendAnswer, sendEmpty } from '../http/answer.js';
import { mountConfigList } from '../http/config-list-routes.js';
import { readOptions, shapeList, shapeOne } from '../http/query-options.js';
import type { ChangeFeed, FeedPage } from './change-feed.js';
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
  siteImages: ConfigList<SiteImages>;
  siteImagesStates: SiteImagesStates;
  reports: SiteReports;
}

/** An integer query parameter the contract has checked (and the validator may have made a number); its default when absent. */
const integerParameter = (req: Request, name: string, fallback: number): number => {
  const value: unknown = req.query[name];
  return typeof value === 'number' || typeof value === 'string' ? Number(value) : fallback;
};

/** Ends `signal` when the client goes away, so a long-poll stops waiting for nobody. */
function clientGone(req: Request): AbortSignal {
  const abort = new AbortController();
  const res = req.res!;
  // Only a connection closed before the answer went out aborts (thousands of answered long-polls need no abort).
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  return abort.signal;
}

export function siteRoutes(parts: SiteRouteParts): Router {
  const router = strictRouter();
  mountConfigList<Site>(router, { path: '/config/sites', list: parts.sites, keyOf: (s) => s.name, answerSchema: 'SiteAnswer' });
  mountConfigList<SiteImages>(router, { path: '/config/image-registry/site-images', list: parts.siteImages, keyOf: (s) => s.name, answerSchema: 'SiteImagesAnswer' });

  const siteImagesSchema = componentSchema('SiteImagesState');
  router.get('/state/image-registry/site-images', async (req, res) => {
    const options = readOptions(req, siteImagesSchema);
    const states = (await parts.siteImagesStates.list()).map((s) => filterSiteImagesContent(s, options.content));
    sendAnswer(req, res, 200, shapeList(states, options, (s) => s.name ?? ''));
  });
  router.get('/state/image-registry/site-images/:key', async (req, res) => {
    const options = readOptions(req, siteImagesSchema);
    const state = await parts.siteImagesStates.get(String(req.params.key));
    sendAnswer(req, res, 200, shapeOne(filterSiteImagesContent(state, options.content), options));
  });

  const stateSchema = componentSchema('SiteState');
  router.get('/state/sites', async (req, res) => {
    const options = readOptions(req, stateSchema);
    const selector = typeof req.query.selector === 'string' ? parseSelector(req.query.selector, 'selector') : undefined;
    const after = typeof req.query.after === 'string' ? req.query.after : undefined;
    const limit = req.query.limit === undefined ? undefined : integerParameter(req, 'limit', 0);
    if (options.count && (after !== undefined || limit !== undefined)) {
      throw invalidInput("query parameter 'count' counts the whole selection: not with 'limit' or 'after', which page a listing");
    }
    const page = await parts.states.list({ selector, after, limit });
    const states = page.states.map((s) => filterSiteContent(s, options.content));
    const last = page.states.at(-1);
    if (page.more && last) {
      const next = rewriteQuery(req.originalUrl, ({ pair, name }) => (name === 'after' ? undefined : pair));
      res.set('Link', `<${next}${next.includes('?') ? '&' : '?'}after=${last.name}>; rel="next"`);
    }
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
  const NDJSON = 'application/x-ndjson';

  /** A page as sent: who made a change stays at the tower (a site records its copies as replication). */
  const pageAnswer = (page: FeedPage, site: string | undefined) => {
    const reportWanted = site !== undefined && !parts.reports.has(site);
    const changes = page.changes.map(({ writeContext: _who, ...change }) => change);
    return { revision: page.revision, 'current-revision': page.currentRevision, changes, ...(reportWanted ? { 'report-wanted': true } : {}) };
  };

  /**
   * Whose feed it is: a site token's site, configured or not yet (its entry, once created, is a change it gets).
   * Only a configured site's calls are recorded as its contact.
   */
  const readerOf = (req: Request): string | undefined => (req.principal!.role === 'site' ? req.principal!.site : undefined);

  router.get('/state/system/changes', async (req, res) => {
    const after = integerParameter(req, 'after', 0);
    const site = await contactOf(req);
    const limit = integerParameter(req, 'limit', 500);
    const waitMs = integerParameter(req, 'wait', 25) * 1000;
    if (req.accepts([...OFFERED, NDJSON]) === NDJSON) return streamFeed(req, res, after, site, limit, waitMs);
    const ended = site ? parts.contacts.begin(site, after) : noContact;
    // A site the tower holds no report from is told so at once (now and then), not only at the end of a long-poll.
    const askNow = site !== undefined && parts.reports.askNow(site);
    try {
      const page = await parts.feed.read(after, { limit, waitMs: askNow ? 0 : waitMs, signal: clientGone(req), reader: readerOf(req) });
      sendAnswer(req, res, 200, pageAnswer(page, site));
    } finally {
      ended();
    }
  });

  /**
   * The feed as a stream (`Accept: application/x-ndjson`): a page a line as soon as there is one for the reader, and
   * an empty page every `wait` seconds so the connection is never idle. The request is authenticated and validated
   * once, and each change costs one line per site rather than an answer and a new request: with thousands of sites,
   * this is what keeps a change reaching every one of them within seconds (README, "Scaling").
   */
  async function streamFeed(req: Request, res: Response, from: number, configured: string | undefined, limit: number, waitMs: number): Promise<void> {
    const signal = clientGone(req);
    const reader = readerOf(req);
    let site = configured;
    let ended = site ? parts.contacts.begin(site, from) : noContact;
    res.status(200).set({ 'Content-Type': `${NDJSON}; charset=utf-8`, 'Cache-Control': 'no-store' });
    res.flushHeaders();
    try {
      let after = from;
      // The first page comes at once: it tells the reader where the tower is (and whether a report is wanted).
      let wait = 0;
      while (!signal.aborted && !parts.feed.draining) {
        const page = await parts.feed.read(after, { limit, waitMs: wait, signal, reader });
        if (signal.aborted) break;
        // A site configured while its stream was open is its contact from now on.
        if (site === undefined && reader !== undefined && (site = await contactOf(req)) !== undefined) ended = parts.contacts.begin(site, after);
        const more = res.write(`${JSON.stringify(pageAnswer(page, site))}\n`);
        after = page.revision;
        if (site) parts.contacts.progress(site, after);
        // A reader that does not keep up gets its next page once it took this one.
        if (!more) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
        wait = page.revision < page.currentRevision ? 0 : waitMs;
      }
    } finally {
      ended();
      if (!res.writableEnded) res.end();
    }
  }

  // Only a site's own token gets here (auth/principal.ts); the report is that site's.
  router.post('/state/system/site-report', async (req, res) => {
    const site = await contactOf(req);
    if (site === undefined) throw notFound(`site '${req.principal!.site}' is not in /v1/config/sites: the tower keeps no report for it`);
    parts.reports.set(site, req.body as SiteReport);
    parts.contacts.touch(site);
    sendEmpty(res, 204);
  });

  router.get('/state/system/snapshot', async (req, res) => {
    const site = await contactOf(req);
    const snapshot = await parts.feed.snapshot(readerOf(req));
    if (site) parts.contacts.begin(site, snapshot.revision)();
    const reportWanted = site !== undefined && !parts.reports.has(site);
    sendAnswer(req, res, 200, { revision: snapshot.revision, entries: snapshot.entries, ...(reportWanted ? { 'report-wanted': true } : {}) });
  });
  return router;
}
