// `berth login URL --sso` and what follows it, for the CLI to call: the OAuth 2.0 device authorization grant
// (RFC 8628) with openid-client, which prints a verification URI and a user code and polls until the person has
// signed on in a browser; the tokens kept in a session file (session-file.ts); the access token refreshed silently
// when it is about to run out, or when Berth answers 401; logout forgets them. A client of the identity provider and
// of Berth's public metadata only, never of server internals.
import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { forgetSession, readSession, withSessionLock, writeSession, type SsoSession } from './session-file.js';

/** What signing on needs: usually read from Berth (readSsoTarget), so a user gives nothing but Berth's URL. */
export interface SsoTarget {
  issuer: string;
  clientId: string;
  /** The resource indicator to ask tokens for: the audience Berth checks. */
  audience: string;
}

export interface ProviderConnection {
  /** PEM of the CA that signs the identity provider's certificate; the system's roots when absent. */
  caCertPem?: string;
}

export interface DeviceCodePrompt {
  verificationUri: string;
  /** The URI with the code in it, when the provider offers one (nothing to type). */
  verificationUriComplete?: string;
  userCode: string;
  expiresInSeconds: number;
}

export interface DeviceLoginOptions extends SsoTarget, ProviderConnection {
  /** Where the session is kept (mode 0600). */
  sessionFile: string;
  /** Default: the scopes for a refresh token (offline_access), the user's name and their groups. */
  scope?: string;
  /** Shows the person where to go and what to type; default: two lines on standard error. */
  prompt?: (prompt: DeviceCodePrompt) => void;
  /** Stops polling (Ctrl-C); polling also ends when the code expires. */
  signal?: AbortSignal;
}

export interface AccessTokenOptions extends ProviderConnection {
  /** Refresh when the access token has less than this left (default 60 s). */
  minValiditySeconds?: number;
  /** Refresh whatever the expiry says (Berth answered 401: the token expired by Berth's clock, or was revoked). */
  forceRefresh?: boolean;
}

/** Who could not be reached, and the network or TLS error code when there is one. */
export interface Unreachable {
  what: 'berth' | 'provider';
  code?: string;
}

/** Signing on did not work, or has to be done again; the message says what to do. */
export class SsoError extends Error {
  constructor(
    message: string,
    /** Set when there was no answer at all (refused connection, TLS, timeout), not a refusal. */
    readonly unreachable?: Unreachable,
  ) {
    super(message);
  }
}

export const DEFAULT_SCOPE = 'openid profile offline_access groups';

/** Berth's RFC 9728 metadata document, which names the issuer, the audience and the CLI's client id. */
const METADATA_PATH = '/.well-known/oauth-protected-resource';

const CALL_TIMEOUT_MS = 30_000;

/** A fetch over one connection pool whose TLS is checked against `caCertPem` (the system's roots when absent). */
function tlsFetch(caCertPem: string | undefined): { fetch: client.CustomFetch; close: () => Promise<void> } {
  const agent = new Agent({ connect: { timeout: 10_000, ...(caCertPem ? { ca: caCertPem } : {}) } });
  const fetch: client.CustomFetch = (url, options) =>
    undiciFetch(url, { ...options, dispatcher: agent, signal: options.signal ?? AbortSignal.timeout(CALL_TIMEOUT_MS) }) as unknown as Promise<Response>;
  return { fetch, close: () => agent.close() };
}

/** Reads where to sign on for a Berth from its metadata; `berthCaCertPem` verifies Berth's own TLS. */
export async function readSsoTarget(berthUrl: string, berthCaCertPem?: string): Promise<SsoTarget> {
  const { fetch, close } = tlsFetch(berthCaCertPem);
  try {
    const url = `${berthUrl.replace(/\/+$/, '')}${METADATA_PATH}`;
    let response: Response;
    try {
      response = await fetch(url, { method: 'GET', headers: { accept: 'application/json' }, redirect: 'manual', body: undefined } as client.CustomFetchOptions);
    } catch (e) {
      throw new SsoError(`cannot reach ${berthUrl}: ${reasonOf(e)}`, unreachable('berth', e) ?? { what: 'berth' });
    }
    if (response.status === 404) throw new SsoError(`${berthUrl} has no single sign-on configured (BERTH_OIDC_ISSUER); log in with a token instead`);
    if (response.status !== 200) throw new SsoError(`${url} answered ${response.status}`);
    const metadata = (await response.json()) as { resource?: unknown; authorization_servers?: unknown; berth_cli_client_id?: unknown };
    const issuer = Array.isArray(metadata.authorization_servers) ? metadata.authorization_servers[0] : undefined;
    if (typeof metadata.resource !== 'string' || typeof issuer !== 'string') throw new SsoError(`${url} is not OAuth protected resource metadata`);
    if (typeof metadata.berth_cli_client_id !== 'string') throw new SsoError(`${berthUrl} names no client id for the CLI (BERTH_OIDC_CLIENT_ID)`);
    return { issuer, clientId: metadata.berth_cli_client_id, audience: metadata.resource };
  } finally {
    await close();
  }
}

async function withProvider<T>(target: SsoTarget, connection: ProviderConnection, use: (config: client.Configuration) => Promise<T>): Promise<T> {
  const { fetch, close } = tlsFetch(connection.caCertPem);
  try {
    let config: client.Configuration;
    try {
      config = await client.discovery(new URL(target.issuer), target.clientId, undefined, client.None(), { [client.customFetch]: fetch });
    } catch (e) {
      throw new SsoError(`cannot reach the identity provider ${target.issuer}: ${reasonOf(e)}`, unreachable('provider', e));
    }
    return await use(config);
  } finally {
    await close();
  }
}

/** Whether `e` is no answer at all: undici's fetch fails with a TypeError whose cause holds the code; or the time ran out. */
function unreachable(what: Unreachable['what'], e: unknown): Unreachable | undefined {
  const error = e as Error & { cause?: { code?: unknown } };
  if (error.name === 'TimeoutError') return { what, code: 'timeout' };
  if (!(error instanceof TypeError)) return undefined;
  const code = error.cause?.code;
  return typeof code === 'string' ? { what, code } : { what };
}

function reasonOf(e: unknown): string {
  if (e instanceof client.ResponseBodyError) return e.error_description ? `${e.error}: ${e.error_description}` : e.error;
  const error = e as Error & { cause?: { code?: string; message?: string } };
  return error.cause?.code ?? error.cause?.message ?? error.message;
}

function sessionOf(target: SsoTarget, scope: string, tokens: client.TokenEndpointResponse, previousRefreshToken?: string): SsoSession {
  const refreshToken = tokens.refresh_token ?? previousRefreshToken;
  return {
    issuer: target.issuer,
    clientId: target.clientId,
    audience: target.audience,
    scope,
    accessToken: tokens.access_token,
    expiresAt: new Date(Date.now() + (tokens.expires_in ?? 300) * 1000).toISOString(),
    ...(refreshToken ? { refreshToken } : {}),
  };
}

const defaultPrompt = (prompt: DeviceCodePrompt) =>
  process.stderr.write(
    `To sign in, open ${prompt.verificationUriComplete ?? prompt.verificationUri}\n` +
      `and enter the code ${prompt.userCode} (valid for ${Math.round(prompt.expiresInSeconds / 60)} minutes). Waiting...\n`,
  );

/** Runs the device flow and keeps the tokens in `sessionFile`. */
export async function deviceLogin(options: DeviceLoginOptions): Promise<SsoSession> {
  const scope = options.scope ?? DEFAULT_SCOPE;
  const resource = { resource: options.audience };
  return withProvider(options, options, async (config) => {
    let authorization: client.DeviceAuthorizationResponse;
    try {
      authorization = await client.initiateDeviceAuthorization(config, { scope, ...resource });
    } catch (e) {
      throw new SsoError(`the identity provider ${options.issuer} refused to start a device login for client '${options.clientId}': ${reasonOf(e)}`);
    }
    (options.prompt ?? defaultPrompt)({
      verificationUri: authorization.verification_uri,
      ...(authorization.verification_uri_complete ? { verificationUriComplete: authorization.verification_uri_complete } : {}),
      userCode: authorization.user_code,
      expiresInSeconds: authorization.expires_in,
    });
    let tokens: client.TokenEndpointResponse;
    try {
      tokens = await client.pollDeviceAuthorizationGrant(config, authorization, resource, options.signal ? { signal: options.signal } : {});
    } catch (e) {
      if (options.signal?.aborted) throw new SsoError('login interrupted; nothing was saved');
      throw new SsoError(`login did not complete: ${reasonOf(e)}`);
    }
    const session = sessionOf(options, scope, tokens);
    writeSession(options.sessionFile, session);
    return session;
  });
}

/**
 * Gets new tokens with the refresh token and keeps them. Under the session's lock, and only if no other berth command
 * refreshed since `stale` was read: its new access token is then the answer, and the refresh token is spent once.
 */
async function refresh(sessionFile: string, stale: SsoSession, connection: ProviderConnection): Promise<SsoSession> {
  return withSessionLock(sessionFile, async () => {
    const session = readSession(sessionFile);
    if (!session) throw new SsoError(`logged out meanwhile (no session in ${sessionFile}): run berth login --sso`);
    if (session.accessToken !== stale.accessToken) return session;
    const { refreshToken } = session;
    if (!refreshToken) throw new SsoError('the access token expired and the provider gave no refresh token: run berth login --sso again');
    return withProvider(session, connection, async (config) => {
      let tokens: client.TokenEndpointResponse;
      try {
        tokens = await client.refreshTokenGrant(config, refreshToken, { resource: session.audience });
      } catch (e) {
        const noAnswer = unreachable('provider', e);
        if (noAnswer) throw new SsoError(`cannot reach the identity provider ${session.issuer} to refresh the access token: ${reasonOf(e)}`, noAnswer);
        throw new SsoError(`the sign-on expired or was revoked (${reasonOf(e)}): run berth login --sso again`);
      }
      const renewed = sessionOf(session, session.scope, tokens, refreshToken);
      writeSession(sessionFile, renewed);
      return renewed;
    });
  });
}

/** An access token to call Berth with: the kept one while it has time left, else a refreshed one. */
export async function accessToken(sessionFile: string, options: AccessTokenOptions = {}): Promise<string> {
  const session = readSession(sessionFile);
  if (!session) throw new SsoError(`not logged in (no session in ${sessionFile}): run berth login --sso`);
  const left = Date.parse(session.expiresAt) - Date.now();
  if (!options.forceRefresh && left > (options.minValiditySeconds ?? 60) * 1000) return session.accessToken;
  return (await refresh(sessionFile, session, options)).accessToken;
}

/**
 * Calls Berth with the access token, and once more with a refreshed one if Berth answers 401 (the token expired by
 * Berth's clock, which may differ from this machine's, or it was revoked). A 403 is not retried: a new token of the
 * same user carries the same groups.
 */
export async function withAccessToken<T extends { status: number }>(sessionFile: string, options: AccessTokenOptions, call: (token: string) => Promise<T>): Promise<T> {
  const first = await call(await accessToken(sessionFile, options));
  if (first.status !== 401) return first;
  return call(await accessToken(sessionFile, { ...options, forceRefresh: true }));
}

/** `berth logout`: forgets the session; true when there was one. The provider's own session is left to expire. */
export function logout(sessionFile: string): boolean {
  return forgetSession(sessionFile);
}
