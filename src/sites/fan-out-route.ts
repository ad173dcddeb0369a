// `?sites=SELECTOR` on the operations that take it (verify-credentials, list-repositories, list-images, pull): the
// tower carries the request out at every site the selector picks and answers with one document, each site's result
// and a summary; with `Accept: application/x-ndjson`, one line per site as each answers, then the summary. Mounted in
// the /v1 chain after contract validation, so authentication, the role check and the body's validation happened
// once, here; every site gets the very bytes that were validated. No route below ever sees a `sites` parameter.
import type { Request, RequestHandler, Response } from 'express';
import type { ConfigList } from '../config/config-list.js';
import { invalidInput } from '../errors.js';
import { answerFormat, sendAnswer } from '../http/answer.js';
import { FanOut, summarise, type FanOutRequest, type SiteResult } from './fan-out.js';
import { parseSelector } from './selector.js';
import type { Site } from './site.js';
import { selectSites } from './site-selection.js';
import { isLongOperation, siteRequestHeaders, untilClientLeaves, withoutSiteParameter } from './site-forwarding.js';

export const NDJSON = 'application/x-ndjson';

/** verify-credentials answers 200 whether or not the credentials work: its `success` says which. */
const SUCCESS_FLAG: ReadonlySet<string> = new Set(['/v1/state/image-registry/remote-registries/{remote-registry-address}/verify-credentials']);

const succeededFor = (template: string) => (body: unknown) =>
  !SUCCESS_FLAG.has(template) || (typeof body === 'object' && body !== null && (body as { success?: unknown }).success === true);

/** NDJSON when the client prefers it; otherwise JSON or YAML as for any answer (406 when it accepts none). */
function streams(req: Request): boolean {
  if (req.accepts(['application/json', 'application/yaml', NDJSON]) === NDJSON) return true;
  answerFormat(req);
  return false;
}

async function streamResults(res: Response, results: AsyncIterable<SiteResult>, collected: SiteResult[]): Promise<void> {
  res.status(200).set({ 'Content-Type': `${NDJSON}; charset=utf-8`, 'Cache-Control': 'no-store' });
  res.flushHeaders();
  for await (const result of results) {
    collected.push(result);
    if (!res.destroyed) res.write(`${JSON.stringify(result)}\n`);
  }
}

export function fanOutRoute(sites: ConfigList<Site>, fanOut: FanOut, ownName: string): RequestHandler {
  return async (req, res, next) => {
    // The contract has checked that `sites` is given once, on an operation that takes it.
    const text = req.query.sites;
    if (typeof text !== 'string') return next();
    if (req.query.site !== undefined) throw invalidInput("query parameters 'site' and 'sites' cannot be combined: 'site' names one site, 'sites' selects several");
    const selector = parseSelector(text);
    const ndjson = streams(req);
    const selected = (await selectSites(sites, selector)).map((s) => s.name);
    const started = performance.now();
    const body = req.rawBody;
    const request: FanOutRequest = {
      method: req.method,
      pathAndQuery: withoutSiteParameter(req.originalUrl),
      // Each site answers in JSON, whatever the client asked for: the tower composes one answer from them all.
      headers: { ...siteRequestHeaders(req, ownName, body), accept: 'application/json' },
      ...(body ? { body } : {}),
      long: isLongOperation(req.method, req.operation!.template),
      succeeded: succeededFor(req.operation!.template),
    };
    const results: SiteResult[] = [];
    const run = fanOut.run(selected, request, untilClientLeaves(res));
    req.log.info({ selector: selector.text, sites: selected.length }, 'fan-out');
    if (ndjson) {
      await streamResults(res, run, results);
      if (!res.destroyed) res.end(`${JSON.stringify({ summary: summarise(selector.text, results, performance.now() - started) })}\n`);
      return;
    }
    for await (const result of run) results.push(result);
    results.sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
    sendAnswer(req, res, 200, { summary: summarise(selector.text, results, performance.now() - started), results });
  };
}
