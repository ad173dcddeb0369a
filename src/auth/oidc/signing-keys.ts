// The identity provider's signing keys as Berth keeps them: fetched when a token names a key id (kid) not seen
// yet, at most once per cooldown however many unknown kids arrive, and refreshed in the background when old.
// While the provider is unreachable the keys already fetched keep verifying tokens; a kid they do not hold is
// then a 503 naming the issuer (Berth cannot tell whether the key is new or forged), not a 401 blaming the caller.
import { createLocalJWKSet, type JWSHeaderParameters, type FlattenedJWSInput, type JSONWebKeySet } from 'jose';
import type { Logger } from 'pino';
import { unauthenticated, unavailable } from '../../errors.js';
import type { IssuerClient } from './issuer-client.js';

export interface SigningKeysOptions {
  /** Least time between two fetches of the key set; unknown kids within it are answered from what is known. */
  cooldownMs: number;
  /** Keys older than this are fetched again in the background when used (a key the provider withdrew stops working). */
  maxAgeMs: number;
}

export const DEFAULT_SIGNING_KEYS_OPTIONS: SigningKeysOptions = { cooldownMs: 5_000, maxAgeMs: 10 * 60_000 };

interface KnownKeys {
  kids: Set<string>;
  resolve: ReturnType<typeof createLocalJWKSet>;
  fetchedAt: number;
}

export class SigningKeys {
  private known: KnownKeys | undefined;
  private lastAttempt: { at: number; failure?: string } | undefined;
  private fetching: Promise<void> | undefined;

  constructor(
    private readonly issuer: IssuerClient,
    private readonly logger: Logger | undefined,
    private readonly options: SigningKeysOptions = DEFAULT_SIGNING_KEYS_OPTIONS,
  ) {}

  /** The key to verify a token's signature with (jose's getKey). The header's kid was checked to be a string. */
  readonly keyFor = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    const kid = header.kid as string;
    const sinceAttempt = this.lastAttempt ? Date.now() - this.lastAttempt.at : Infinity;
    if (this.known?.kids.has(kid)) {
      const old = Date.now() - this.known.fetchedAt >= this.options.maxAgeMs;
      if (old && sinceAttempt >= this.options.cooldownMs) void this.refresh().catch(() => {});
      return this.known.resolve(header, token);
    }
    if (sinceAttempt >= this.options.cooldownMs || this.fetching) {
      try {
        await this.refresh();
      } catch {
        throw this.unreachable();
      }
    } else if (!this.known || this.lastAttempt?.failure) {
      throw this.unreachable(this.options.cooldownMs - sinceAttempt);
    }
    if (!this.known?.kids.has(kid)) throw unauthenticated(`access token names a signing key (kid) that the issuer ${this.issuer.issuer} does not publish`);
    return this.known.resolve(header, token);
  };

  private unreachable(retryAfterMs = this.options.cooldownMs): Error {
    const why = this.lastAttempt?.failure ?? 'no answer yet';
    return unavailable(`cannot check the access token: the identity provider ${this.issuer.issuer} does not answer for its signing keys (${why})`, Math.max(1, Math.ceil(retryAfterMs / 1000)));
  }

  /** Fetches the keys in the background (at start-up); a failure is logged, and the next token tries again. */
  prefetch(): void {
    void this.refresh().catch(() => {});
  }

  /** One fetch at a time; callers arriving meanwhile wait for it. */
  private refresh(): Promise<void> {
    this.fetching ??= this.fetchKeys().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async fetchKeys(): Promise<void> {
    const wasFailing = this.lastAttempt?.failure !== undefined;
    this.lastAttempt = { at: Date.now() };
    let keySet: JSONWebKeySet;
    let resolve: KnownKeys['resolve'];
    try {
      keySet = await this.issuer.signingKeys();
      resolve = createLocalJWKSet(keySet);
    } catch (e) {
      const failure = describeFailure(e);
      if (!wasFailing) this.logger?.warn({ issuer: this.issuer.issuer, failure, keysKnown: this.known?.kids.size ?? 0 }, 'cannot fetch the signing keys of the identity provider; keys already fetched keep working');
      this.lastAttempt = { at: this.lastAttempt.at, failure };
      throw e;
    }
    const kids = new Set(keySet.keys.flatMap((k) => (typeof k.kid === 'string' ? [k.kid] : [])));
    if (wasFailing) this.logger?.info({ issuer: this.issuer.issuer }, 'the identity provider answers for its signing keys again');
    if (this.known && !sameKeys(this.known.kids, kids)) this.logger?.info({ issuer: this.issuer.issuer, kids: [...kids] }, 'the identity provider\'s signing keys changed');
    this.known = { kids, resolve, fetchedAt: Date.now() };
  }
}

const sameKeys = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((k) => b.has(k));

/** A short reason for logs and 503s: undici hides the network error (ECONNREFUSED, a TLS failure) in `cause`. */
function describeFailure(e: unknown): string {
  const error = e as Error & { cause?: Error & { code?: string } };
  const cause = error.cause;
  if (cause?.code || cause?.message) return `${error.message}: ${cause.code ?? cause.message}`;
  return error.message ?? String(e);
}
