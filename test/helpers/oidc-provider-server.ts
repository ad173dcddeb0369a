// A real OpenID Provider for tests, in its own process: `oidc-provider` on loopback over TLS, with the device flow,
// JWT access tokens for one resource indicator (Berth's audience), users in groups, and a login and consent page a
// test fills in like a person would. Started by test/helpers/oidc-provider.ts with a JSON config file as argument.
//
// A few test-only endpoints (POST, with the x-test-admin header holding the config's adminSecret):
//   /test-admin/keys   {keys: [private JWK...]}  rotates the signing keys: the first signs from now on, all are published
//   /test-admin/clock  {offsetSeconds: N}          moves this provider's clock (tokens issued already expired, or early)
//   /test-admin/stats  -> {keySetRequests}          how often the key set (jwks_uri) was fetched
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import Provider, { errors, type Configuration, type JWKS, type KoaContextWithOIDC } from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';

export interface TestUser {
  password: string;
  groups: string[];
  /** preferred_username; the account id (sub) otherwise. */
  username?: string;
}

export interface ProviderProgramConfig {
  tlsCertPath: string;
  tlsKeyPath: string;
  /** Berth's audience: the one resource indicator tokens are issued for. */
  audience: string;
  /** The public client of the device flow (the berth CLI). */
  clientId: string;
  /** Account id (the token's sub) -> user. */
  users: Record<string, TestUser>;
  /** Private signing keys (RS256 JWKs with kid); the first signs. */
  keys: JWKS['keys'];
  accessTokenTtlSeconds: number;
  adminSecret: string;
  cookieSecret: string;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ProviderProgramConfig;

// The provider's clock, movable so tests get tokens that are expired (or not yet valid) for Berth without waiting.
let clockOffsetMs = 0;
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + clockOffsetMs;

let keySetRequests = 0;

/** One store for every Provider instance (one per key set): sessions, grants and refresh tokens outlive a rotation. */
const adapter = createMemoryAdapter();

const html = (title: string, body: string) =>
  `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function providerConfiguration(keys: JWKS['keys']): Configuration {
  const userOf = (accountId: string | undefined) => (accountId ? config.users[accountId] : undefined);
  return {
    adapter,
    clients: [
      {
        client_id: config.clientId,
        client_name: 'berth CLI',
        token_endpoint_auth_method: 'none',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    jwks: { keys },
    cookies: { keys: [config.cookieSecret] },
    scopes: ['openid', 'offline_access', 'profile', 'groups'],
    claims: { openid: ['sub'], profile: ['preferred_username'], groups: ['groups'] },
    async findAccount(_ctx, accountId) {
      const user = userOf(accountId);
      if (!user) return undefined;
      return { accountId, claims: async () => ({ sub: accountId, preferred_username: user.username ?? accountId, groups: user.groups }) };
    },
    // Access tokens carry who the user is and their groups, as Keycloak, Entra ID and Dex can be set up to.
    async extraTokenClaims(_ctx, token) {
      const user = userOf((token as { accountId?: string }).accountId);
      return user ? { preferred_username: user.username ?? (token as { accountId: string }).accountId, groups: user.groups } : undefined;
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => config.audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource !== config.audience) throw new errors.InvalidTarget();
          return { scope: 'berth', audience: config.audience, accessTokenTTL: config.accessTokenTtlSeconds, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { AccessToken: config.accessTokenTtlSeconds, DeviceCode: 600, RefreshToken: 86_400, Grant: 86_400, Session: 86_400, Interaction: 600 },
    pkce: { required: () => false },
  };
}

let issuer = '';
let provider: Provider;
let handle: (req: IncomingMessage, res: ServerResponse) => void;

/** A new Provider instance with these keys; sessions, grants and tokens live in the in-memory adapter they share. */
function useKeys(keys: JWKS['keys']): void {
  provider = new Provider(issuer, providerConfiguration(keys));
  provider.on('server_error', (_ctx: KoaContextWithOIDC, err: Error) => process.stderr.write(`oidc-provider server_error: ${err.stack}\n`));
  // Why a grant was refused (the client only hears invalid_grant): for the test's own diagnosis.
  provider.on('grant.error', (_ctx: KoaContextWithOIDC, err: Error & { error_detail?: string }) => process.stderr.write(`oidc-provider grant.error: ${err.message} (${err.error_detail ?? ''})\n`));
  handle = provider.callback() as (req: IncomingMessage, res: ServerResponse) => void;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) text += (chunk as Buffer).toString();
  return new URLSearchParams(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) text += (chunk as Buffer).toString();
  return JSON.parse(text) as Record<string, unknown>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** The login and consent pages of an interaction, and their form posts. */
async function interaction(req: IncomingMessage, res: ServerResponse, uid: string, step: string | undefined): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction mismatch');
  const prompt = details.prompt.name;
  if (req.method === 'GET') {
    if (prompt === 'login') {
      return send(res, 200, 'text/html', html('Sign in', `<form method="post" action="/interaction/${uid}/login"><input name="username"><input name="password" type="password"><button>Sign in</button></form>`));
    }
    const scopes = escapeHtml(String(details.params.scope ?? ''));
    return send(res, 200, 'text/html', html('Authorize', `<p>${scopes}</p><form method="post" action="/interaction/${uid}/consent"><button>Allow</button></form>`));
  }
  if (step === 'login' && prompt === 'login') {
    const form = await readForm(req);
    const accountId = form.get('username') ?? '';
    const user = config.users[accountId];
    if (!user || user.password !== form.get('password')) {
      return send(res, 200, 'text/html', html('Sign in', '<p class="error">wrong user name or password</p>'));
    }
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }
  if (step === 'consent' && prompt === 'consent') {
    const { accountId } = details.session!;
    const grant = details.grantId ? (await provider.Grant.find(details.grantId))! : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  send(res, 400, 'text/plain', `unexpected ${req.method} ${step ?? ''} at prompt ${prompt}`);
}

async function admin(req: IncomingMessage, res: ServerResponse, action: string): Promise<void> {
  if (req.method !== 'POST' || req.headers['x-test-admin'] !== config.adminSecret) return send(res, 403, 'text/plain', 'forbidden');
  switch (action) {
    case 'keys':
      useKeys((await readJson(req)).keys as JWKS['keys']);
      return send(res, 200, 'application/json', '{}');
    case 'clock':
      clockOffsetMs = Number((await readJson(req)).offsetSeconds) * 1000;
      return send(res, 200, 'application/json', '{}');
    case 'stats':
      return send(res, 200, 'application/json', JSON.stringify({ keySetRequests }));
    default:
      return send(res, 404, 'text/plain', 'no such admin action');
  }
}

const server = createServer({ cert: readFileSync(config.tlsCertPath), key: readFileSync(config.tlsKeyPath) }, (req, res) => {
  const path = new URL(req.url ?? '/', issuer).pathname;
  const interactionMatch = /^\/interaction\/([^/]+)(?:\/(login|consent))?$/.exec(path);
  const adminMatch = /^\/test-admin\/([a-z]+)$/.exec(path);
  let work: Promise<void> | undefined;
  if (interactionMatch) work = interaction(req, res, interactionMatch[1]!, interactionMatch[2]);
  else if (adminMatch) work = admin(req, res, adminMatch[1]!);
  if (work) {
    work.catch((err: Error) => {
      process.stderr.write(`oidc test provider: ${err.stack}\n`);
      if (!res.headersSent) send(res, 500, 'text/plain', 'error');
    });
    return;
  }
  if (path === '/jwks') keySetRequests++;
  handle(req, res);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  issuer = `https://127.0.0.1:${port}`;
  useKeys(config.keys);
  process.stdout.write(`oidc test provider listening on ${issuer}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
