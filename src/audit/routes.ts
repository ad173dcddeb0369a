// GET /v1/state/system/audit: the audit trail, newest first, filtered by path prefix and principal, paged with
// `before` and `limit` (a `Link: <...>; rel="next"` names the next page), or counted. Thin: parse, read, answer.
import type { Request, Router } from 'express';
import { componentSchema } from '../contract/openapi.js';
import { sendAnswer } from '../http/answer.js';
import { strictRouter } from '../http/path-grammar.js';
import { readOptions, shapeList } from '../http/query-options.js';
import { rewriteQuery } from '../http/raw-query.js';
import type { AuditQuery, AuditTrail } from './audit-trail.js';

const DEFAULT_LIMIT = 100;

/** A query parameter the contract has checked: a string, or a number the validator made of it. */
const parameter = (req: Request, name: string): string | undefined => {
  const value: unknown = req.query[name];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
};

function queryOf(req: Request): AuditQuery {
  const path = parameter(req, 'path');
  const principal = parameter(req, 'principal');
  const before = parameter(req, 'before');
  return { ...(path !== undefined ? { path } : {}), ...(principal !== undefined ? { principal } : {}), ...(before !== undefined ? { before: Number(before) } : {}) };
}

/** This request's URL with `before` set to `next`: every other parameter as the client wrote it. */
const nextPage = (req: Request, next: number): string => {
  const rest = rewriteQuery(req.originalUrl, ({ pair, name }) => (name === 'before' ? undefined : pair));
  return `${rest}${rest.includes('?') ? '&' : '?'}before=${next}`;
};

export function auditRoutes(trail: AuditTrail): Router {
  const router = strictRouter();
  const entrySchema = componentSchema('AuditEntry');
  router.get('/state/system/audit', async (req, res) => {
    const options = readOptions(req, entrySchema);
    const query = queryOf(req);
    if (options.count) return sendAnswer(req, res, 200, { count: await trail.count(query) });
    const page = await trail.read(query, Number(parameter(req, 'limit') ?? DEFAULT_LIMIT));
    if (page.next !== undefined) res.set('Link', `<${nextPage(req, page.next)}>; rel="next"`);
    sendAnswer(req, res, 200, shapeList(page.entries, options, (entry) => String(entry.id)));
  });
  return router;
}
