// Metrics of every request Berth answers: counted by route template (a /v1 operation's path template, a /v2 route's
// shape, an open endpoint's path; `unmatched` for anything else, so a client cannot mint label values), method and
// status; timed; and the requests in flight.
import type { IncomingMessage } from 'node:http';
import type { Operation } from './path-grammar.js';
import type { RequestHook } from './request-hooks.js';
import { Counter, Gauge, Histogram, bounded, secondsSince } from '../metrics/metrics.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The route shape of a request outside /v1 (the site registry's, `/docs/{file}`), for metrics. */
    routeTemplate?: string;
  }
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const requests = new Counter({
  name: 'berth_http_requests_total',
  help: 'HTTP requests answered, by route template, method and status (`aborted`: the client left before an answer).',
  labelNames: ['route', 'method', 'status'] as const,
});
const duration = new Histogram({
  name: 'berth_http_request_duration_seconds',
  help: 'Time from a request\'s arrival to the end of its answer (or the client leaving), by route template and method.',
  labelNames: ['route', 'method'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
});
const inFlight = new Gauge({ name: 'berth_http_requests_in_flight', help: 'HTTP requests being answered now (long polls and pull streams included).' });

/** Routes outside /v1 and /v2 that are labelled by their own path. */
export function httpMetrics(openPaths: readonly string[]): RequestHook {
  const open = new Set(openPaths);
  const openRoute = (url: string, status: number) => {
    const path = url.split('?', 1)[0]!;
    return open.has(path) && status !== 404 ? path : 'unmatched';
  };
  return (incoming, res) => {
    // Read at the answer's end: by then Express (or a plain read) has said which route the request took.
    const req = incoming as IncomingMessage & { originalUrl?: string; operation?: Operation; routeTemplate?: string };
    const start = performance.now();
    inFlight.inc();
    return () => {
      inFlight.dec();
      const route = req.operation?.template ?? req.routeTemplate ?? openRoute(req.originalUrl ?? req.url ?? '', res.statusCode);
      const method = bounded(req.method ?? '', METHODS);
      requests.inc({ route, method, status: res.headersSent ? String(res.statusCode) : 'aborted' });
      duration.observe({ route, method }, secondsSince(start));
    };
  };
}
