// Retries of idempotent requests (all the client sends are GET/HEAD) when the connection dropped under them or the
// registry answered 502/503/504: a stale keep-alive socket or a restarting registry should not fail a pull.
import { setTimeout as sleep } from 'node:timers/promises';
import { discard, headerValue, type Layer } from './dispatch.js';
import { isDroppedConnection } from './transport-failure.js';

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Wait before the second attempt; doubled each time after. */
  baseDelayMs: number;
  /** A `Retry-After` longer than this is not waited for: the answer goes to the caller. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 3, baseDelayMs: 200, maxDelayMs: 5_000 };

const RETRY_STATUSES = new Set([502, 503, 504]);

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export const retryLayer =
  (options: RetryOptions = DEFAULT_RETRY): Layer =>
  (next) =>
  async (request) => {
    for (let attempt = 1; ; attempt++) {
      const backoff = options.baseDelayMs * 2 ** (attempt - 1);
      const last = attempt >= options.attempts;
      let response;
      try {
        response = await next(request);
      } catch (error) {
        if (last || !isDroppedConnection(error)) throw error;
        await sleep(backoff, undefined, request.signal ? { signal: request.signal } : {});
        continue;
      }
      if (last || !RETRY_STATUSES.has(response.statusCode)) return response;
      const delay = retryAfterMs(headerValue(response, 'retry-after')) ?? backoff;
      if (delay > options.maxDelayMs) return response;
      await discard(response);
      await sleep(delay, undefined, request.signal ? { signal: request.signal } : {});
    }
  };
