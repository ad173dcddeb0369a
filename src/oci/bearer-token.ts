// The Docker token flow: GET the challenge's realm with `service` and `scope`, Basic credentials when there are
// any, and read `token`/`access_token`. Tokens are cached per (realm, service, scope, credential) until they expire.
import { basicAuthorization, credentialFingerprint, type RegistryCredential } from './credentials.js';
import { discard, type RegistryResponse, type Send } from './dispatch.js';
import { BodyTooLargeError, readBody } from './read-body.js';
import { UpstreamError } from './upstream-error.js';
import { transportFailure } from './transport-failure.js';

export interface TokenRequest {
  realm: string;
  service?: string;
  /** `repository:NAME:pull`, `registry:catalog:*`, or none for a login check. */
  scope?: string;
  /** Username/password go to the realm as Basic; none means an anonymous token. */
  credential?: { username: string; password: string };
}

export interface IssuedToken {
  token: string;
  /** Whether it came from the cache (a registry rejecting it then may mean it was revoked: fetch anew). */
  fromCache: boolean;
}

/** Docker's token spec: without `expires_in` a token lives 60 seconds. */
const DEFAULT_EXPIRES_IN_SECONDS = 60;
const MAX_TOKEN_RESPONSE_BYTES = 1 << 20;

interface CachedToken {
  token: string;
  /** Epoch ms after which we no longer send it. */
  renewAt: number;
}

export class BearerTokenSource {
  private readonly cache = new Map<string, CachedToken>();
  /** One request per key at a time: parallel blob fetches of one repository share one token request. */
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(
    /** The raw transport: token requests are not authenticated by the auth layer nor redirected. */
    private readonly send: Send,
    private readonly context: { registry: string; label: string },
    private readonly now: () => number = Date.now,
  ) {}

  async token(request: TokenRequest, options: { fresh: boolean }): Promise<IssuedToken> {
    const key = [request.realm, request.service ?? '', request.scope ?? '', credentialFingerprint(request.credential)].join('\n');
    const cached = this.cache.get(key);
    if (!options.fresh && cached && cached.renewAt > this.now()) return { token: cached.token, fromCache: true };
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.fetch(request).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    const issued = await pending;
    this.forgetExpired();
    this.cache.set(key, issued);
    return { token: issued.token, fromCache: false };
  }

  /** A long-running client touches many repositories; expired tokens are dropped rather than kept forever. */
  private forgetExpired(): void {
    if (this.cache.size < 256) return;
    const now = this.now();
    for (const [key, cached] of this.cache) if (cached.renewAt <= now) this.cache.delete(key);
  }

  private fail(kind: 'unauthorized' | 'forbidden' | 'bad-response', message: string, status?: number): UpstreamError {
    return new UpstreamError(
      { kind, registry: this.context.registry, ...(status !== undefined ? { status } : {}) },
      `registry ${this.context.label}: ${message}`,
    );
  }

  private async fetch(request: TokenRequest): Promise<CachedToken> {
    let realm: URL;
    try {
      realm = new URL(request.realm);
    } catch {
      throw this.fail('bad-response', `the token realm in its challenge is not a URL`);
    }
    // The realm gets the password: never over plain HTTP.
    if (realm.protocol !== 'https:') throw this.fail('bad-response', `token realm ${realm.origin} is not https; refusing to use it`);
    if (request.service !== undefined) realm.searchParams.set('service', request.service);
    if (request.scope !== undefined) realm.searchParams.set('scope', request.scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (request.credential) headers.authorization = basicAuthorization(request.credential);

    const issuedAt = this.now();
    const response: RegistryResponse = await this.send({
      method: 'GET',
      origin: realm.origin,
      path: `${realm.pathname}${realm.search}`,
      headers,
    });
    const what = `token service ${realm.host}`;
    const forScope = request.scope ? ` for ${request.scope}` : '';
    if (response.statusCode !== 200) {
      await discard(response);
      if (response.statusCode === 401) {
        throw this.fail(
          'unauthorized',
          request.credential ? `${what} rejected the credentials${forScope}` : `${what} requires credentials${forScope}; none are configured`,
          401,
        );
      }
      if (response.statusCode === 403) throw this.fail('forbidden', `${what} refused a token${forScope}`, 403);
      throw this.fail('bad-response', `${what} answered ${response.statusCode}`, response.statusCode);
    }
    let raw: Buffer;
    try {
      raw = await readBody(response.body, MAX_TOKEN_RESPONSE_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) throw this.fail('bad-response', `${what} answered more than ${error.limit} bytes`);
      throw transportFailure(error, { ...this.context, host: realm.host });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw this.fail('bad-response', `${what} did not answer a JSON token`);
    }
    const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const token = typeof fields.token === 'string' && fields.token ? fields.token : fields.access_token;
    if (typeof token !== 'string' || token === '') throw this.fail('bad-response', `${what} answered without a token`);
    const expiresIn =
      typeof fields.expires_in === 'number' && fields.expires_in > 0 ? fields.expires_in : DEFAULT_EXPIRES_IN_SECONDS;
    // Stop using a token a little before it expires (a tenth of its life, at most 10 s) so it never expires in flight.
    const lifetimeMs = (expiresIn - Math.min(10, expiresIn / 10)) * 1000;
    return { token, renewAt: issuedAt + lifetimeMs };
  }
}
