// A fan-out: one request carried out at many sites, at most `concurrency` at a time, each bounded by its own time
// limit, each site's answer (or why there was none) reported as it comes. A site that cannot be reached is a result
// like any other, never a failure of the whole. Knows nothing of HTTP routes; site-connections.ts does the calling.
import { isBerthError, type ErrorInfo } from '../errors.js';
import type { SiteConnections, SiteRequest } from './site-connections.js';

export type SiteOutcome = 'ok' | 'failed' | 'unreachable';

/** One site's part of a fan-out, as the contract's FanOutSiteResult. */
export interface SiteResult {
  site: string;
  outcome: SiteOutcome;
  /** The site's HTTP status, when it answered. */
  status?: number;
  /** The site's answer (its error body for a failure), when it answered with JSON. */
  body?: unknown;
  'error-message'?: string;
  'error-info'?: ErrorInfo;
  'duration-ms': number;
}

export interface FanOutSummary {
  selector: string;
  sites: number;
  ok: number;
  failed: number;
  unreachable: number;
  'duration-ms': number;
}

export interface FanOutOptions {
  /** Sites called at once (BERTH_FANOUT_CONCURRENCY). */
  concurrency: number;
  /** Per site: from the call to the end of its answer (BERTH_FANOUT_TIMEOUT). */
  timeoutMs: number;
}

/** What to send to each site, and how to tell a success from a failure in its answer. */
export interface FanOutRequest extends Omit<SiteRequest, 'signal'> {
  /** Whether a site's answer (already known to be 2xx JSON) reports success; verify-credentials answers 200 either way. */
  succeeded(body: unknown): boolean;
}

/** A site's answer is read whole; one larger than this is reported as a failure of that site, not buffered. */
export const MAX_SITE_ANSWER_BYTES = 8 * 1024 * 1024;

const errorMessageOf = (body: unknown): string | undefined => {
  const first = (body as { errors?: { 'error-message'?: unknown }[] } | null)?.errors?.[0]?.['error-message'];
  return typeof first === 'string' ? first : undefined;
};

export class FanOut {
  constructor(
    private readonly connections: SiteConnections,
    private readonly options: FanOutOptions,
  ) {}

  /** Calls one site and makes whatever happens into its result. */
  private async callOne(site: string, request: FanOutRequest, signal: AbortSignal): Promise<SiteResult> {
    const started = performance.now();
    const timeoutMs = request.long ? Math.max(this.options.timeoutMs, LONG_FANOUT_MS) : this.options.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const elapsed = () => Math.round(performance.now() - started);
    const { succeeded, ...siteRequest } = request;
    try {
      const answer = await this.connections.send(site, { ...siteRequest, signal: AbortSignal.any([signal, timeout]) });
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of answer.body) {
        bytes += (chunk as Buffer).length;
        if (bytes > MAX_SITE_ANSWER_BYTES) {
          answer.body.destroy();
          return { site, outcome: 'failed', status: answer.statusCode, 'error-message': `site '${site}' answered with more than ${MAX_SITE_ANSWER_BYTES} bytes; ask it alone with ?site=${site}`, 'error-info': { site, kind: 'answer-too-large' }, 'duration-ms': elapsed() };
        }
        chunks.push(chunk as Buffer);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        return { site, outcome: 'failed', status: answer.statusCode, 'error-message': `site '${site}' answered ${answer.statusCode} with a body that is not JSON`, 'error-info': { site, kind: 'bad-response' }, 'duration-ms': elapsed() };
      }
      const ok = answer.statusCode >= 200 && answer.statusCode < 300 && succeeded(body);
      const message = ok ? undefined : (errorMessageOf(body) ?? (body as { 'error-message'?: string } | undefined)?.['error-message']);
      return {
        site,
        outcome: ok ? 'ok' : 'failed',
        status: answer.statusCode,
        ...(body !== undefined ? { body } : {}),
        ...(message ? { 'error-message': message } : {}),
        'duration-ms': elapsed(),
      };
    } catch (e) {
      if (timeout.aborted && !signal.aborted) {
        return { site, outcome: 'unreachable', 'error-message': `site '${site}' gave no answer within ${timeoutMs / 1000} s`, 'error-info': { site, kind: 'timeout' }, 'duration-ms': elapsed() };
      }
      if (isBerthError(e) && (e.kind === 'unavailable' || e.kind === 'not-found')) {
        return { site, outcome: 'unreachable', 'error-message': e.message, ...(e.info ? { 'error-info': e.info } : {}), 'duration-ms': elapsed() };
      }
      // The answer broke off after its status line, or the client went away (then nobody reads this).
      return { site, outcome: 'unreachable', 'error-message': `site '${site}': the answer broke off (${(e as Error).message})`, 'error-info': { site, kind: 'connect' }, 'duration-ms': elapsed() };
    }
  }

  /**
   * Results in the order they come. At most `concurrency` sites are called at once; stopping to read (or `signal`,
   * the client going away) stops calling further sites.
   */
  async *run(sites: readonly string[], request: FanOutRequest, signal: AbortSignal): AsyncGenerator<SiteResult> {
    const done: SiteResult[] = [];
    let wake: (() => void) | undefined;
    let next = 0;
    let working = Math.max(1, Math.min(this.options.concurrency, sites.length));
    const worker = async () => {
      while (next < sites.length && !signal.aborted) {
        const site = sites[next++]!;
        done.push(await this.callOne(site, request, signal));
        wake?.();
      }
      working--;
      wake?.();
    };
    const all = Promise.all(Array.from({ length: working }, worker));
    try {
      for (;;) {
        if (done.length > 0) yield done.shift()!;
        else if (working === 0) break;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      await all;
    }
  }
}

/** A pull at a site answers when the image is in: it is given at least this long whatever BERTH_FANOUT_TIMEOUT says. */
export const LONG_FANOUT_MS = 10 * 60_000;

export function summarise(selector: string, results: readonly SiteResult[], durationMs: number): FanOutSummary {
  const count = (outcome: SiteOutcome) => results.filter((r) => r.outcome === outcome).length;
  return { selector, sites: results.length, ok: count('ok'), failed: count('failed'), unreachable: count('unreachable'), 'duration-ms': Math.round(durationMs) };
}
