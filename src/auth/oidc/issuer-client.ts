// Berth's calls to the identity provider: discovery of its metadata with openid-client, then its signing keys
// (jwks_uri), over one connection pool whose TLS is checked against BERTH_OIDC_CA_CERT when given.
import { Agent, fetch as undiciFetch } from 'undici';
import * as client from 'openid-client';
import type { JSONWebKeySet } from 'jose';

const CONNECT_TIMEOUT_MS = 5_000;
/** Each call to the provider, connection included; a provider that hangs must not hold a request for long. */
const CALL_TIMEOUT_MS = 5_000;

export class IssuerClient {
  private readonly agent: Agent;
  private readonly fetch: client.CustomFetch;
  private jwksUri: string | undefined;

  constructor(
    readonly issuer: string,
    /** Any client id: discovery needs one to build its Configuration, and Berth only reads server metadata. */
    private readonly clientId: string,
    caCertPem: string | undefined,
  ) {
    this.agent = new Agent({ connect: { timeout: CONNECT_TIMEOUT_MS, ...(caCertPem ? { ca: caCertPem } : {}) } });
    this.fetch = (url, options) =>
      undiciFetch(url, { ...options, dispatcher: this.agent, signal: options.signal ?? AbortSignal.timeout(CALL_TIMEOUT_MS) }) as unknown as Promise<Response>;
  }

  /** Where the provider publishes its keys: discovered once (openid-client checks the issuer it answers for). */
  private async keySetLocation(): Promise<string> {
    if (this.jwksUri) return this.jwksUri;
    const configuration = await client.discovery(new URL(this.issuer), this.clientId, undefined, undefined, {
      [client.customFetch]: this.fetch,
      timeout: CALL_TIMEOUT_MS / 1000,
    });
    const jwksUri = configuration.serverMetadata().jwks_uri;
    if (!jwksUri) throw new Error('its discovery document names no jwks_uri');
    this.jwksUri = jwksUri;
    return jwksUri;
  }

  /** The provider's current JSON Web Key Set. */
  async signingKeys(): Promise<JSONWebKeySet> {
    const location = await this.keySetLocation();
    const response = await this.fetch(location, {
      method: 'GET',
      headers: { accept: 'application/jwk-set+json, application/json' },
      redirect: 'manual',
      body: undefined,
    } as client.CustomFetchOptions);
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`its key set ${location} answered ${response.status}`);
    }
    const keys = (await response.json()) as JSONWebKeySet;
    if (typeof keys !== 'object' || keys === null || !Array.isArray(keys.keys)) throw new Error(`its key set ${location} is not a JSON Web Key Set`);
    return keys;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
