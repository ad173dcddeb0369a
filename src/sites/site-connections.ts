// The control tower's way to its sites: one keep-alive connection per site (transport's, TLS checked against the site's CA),
// the site's bearer token read from the tower's secret store, bounded timeouts. Every failure to get an answer
// is a 503 naming the site; an answer, whatever its status, is handed back as it is.
import type { Readable } from 'node:stream';
import type { ConfigList, Versioned } from '../config/config-list.js';
import { BerthError, isBerthError, notFound, unavailable } from '../errors.js';
import type { SecretStore } from '../secrets/secret-store.js';
import { cachedSecretReads, type SecretReader } from '../secrets/cached-secret-reads.js';
import { loadUndici, type Undici } from '../http/undici.js';
import type { Site } from './site.js';
import { ClientsByRevision, codeOf, KeepAliveConnection, primaryError } from '../transport/index.js';

/** TCP (and TLS) handshake with a site. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** From sending a request to the answer's headers, and between two chunks of its body. */
export const ANSWER_TIMEOUT_MS = 30_000;
/** The same for requests that work long before answering (a pull answers when the image is in). */
export const LONG_ANSWER_TIMEOUT_MS = 10 * 60_000;
/** What a client is asked to wait before trying an unreachable site again. */
export const SITE_RETRY_AFTER_SECONDS = 5;

export interface SiteRequest {
  method: string;
  /** Path and query as the site serves them, e.g. `/v1/state/image-registry/repositories?keys=true`. */
  pathAndQuery: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Allow LONG_ANSWER_TIMEOUT_MS instead of ANSWER_TIMEOUT_MS. */
  long?: boolean;
  signal?: AbortSignal;
}

export interface SiteResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/** Words for why no answer came, from Node's and undici's error codes; never anything the site sent. */
function reasonOf(error: unknown, timeoutMs: number): { reason: string; kind: string } {
  const code = codeOf(primaryError(error));
  switch (code) {
    case 'ECONNREFUSED':
      return { reason: 'connection refused', kind: 'connect' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { reason: 'no route to the host', kind: 'connect' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { reason: 'its host name does not resolve', kind: 'dns' };
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { reason: `no connection within ${CONNECT_TIMEOUT_MS / 1000} s`, kind: 'timeout' };
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return { reason: `no answer within ${timeoutMs / 1000} s`, kind: 'timeout' };
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return { reason: 'the connection was closed before an answer', kind: 'connect' };
    default:
      if (code && /CERT|SSL|TLS|SIGNATURE|ALTNAME/.test(code)) return { reason: `TLS failed (${code}); check the site's ca-cert`, kind: 'tls' };
      return { reason: code ?? (error instanceof Error ? error.message : 'unknown failure'), kind: 'connect' };
  }
}


export class SiteConnections {
  private readonly connections = new ClientsByRevision<KeepAliveConnection>();
  private readonly readSecret: SecretReader | undefined;

  constructor(
    private readonly sites: ConfigList<Site>,
    secrets: SecretStore | undefined,
    /** BERTH_SITES_ALLOW_HTTP: whether the token may go to an http:// api-url (stored before the setting changed). */
    private readonly allowHttp: boolean,
  ) {
    this.readSecret = secrets && cachedSecretReads(secrets);
  }

  private async site(name: string): Promise<Versioned<Site>> {
    try {
      // Every forwarded request looks its site up: under load, the store checks once for all of a turn's.
      return await this.sites.get(name, { shareCheck: true });
    } catch (e) {
      if (isBerthError(e) && e.kind === 'not-found') throw notFound(`unknown site '${name}': it is not in /v1/config/sites`, { site: name });
      throw e;
    }
  }

  /** The connection for this version of the site's configuration; a changed site gets a new one. */
  private connectionFor({ value: site, revision }: Versioned<Site>, { Agent }: Undici): KeepAliveConnection {
    // The site's certificate must chain to the CA configured for it.
    return this.connections.get(site.name, revision, () => new KeepAliveConnection(Agent, {
      url: site['api-url'],
      ...(site['ca-cert'] ? { caCertPem: site['ca-cert'] } : {}),
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      keepAliveTimeoutMs: 30_000,
      connections: 64,
    }));
  }

  private unreachable(site: Site, reason: string, kind: string): BerthError {
    return unavailable(`site '${site.name}' at ${site['api-url']} is unreachable: ${reason}`, SITE_RETRY_AFTER_SECONDS, { site: site.name, kind });
  }

  /** The token the tower presents at `site`, from the tower's secret store (reads are cached briefly). */
  private async token(site: Site): Promise<string> {
    const where = `secret '${site.secret}' in vault '${site.vault}'`;
    if (!this.readSecret) throw this.unreachable(site, `the tower has no secret store (VAULT_ADDR) to read its token for the site from (${where})`, 'no-secret-store');
    let data: Record<string, unknown>;
    try {
      data = await this.readSecret.read(site.vault, site.secret);
    } catch (e) {
      // A sealed or unreachable secret store is already a 503 of its own; other problems name the secret.
      if (isBerthError(e) && e.kind === 'unavailable') throw e;
      const kind = isBerthError(e) && typeof e.info?.kind === 'string' ? e.info.kind : 'secret-store-error';
      throw this.unreachable(site, `the tower cannot read its token for the site: ${(e as Error).message}`, kind);
    }
    if (typeof data.token !== 'string' || data.token === '') throw this.unreachable(site, `${where} has no field 'token'`, 'secret-malformed');
    return data.token;
  }

  /** Sends `request` to the site named `name`; resolves with its answer, or throws not-found / unavailable. */
  async send(name: string, request: SiteRequest): Promise<SiteResponse> {
    const entry = await this.site(name);
    const site = entry.value;
    if (!this.allowHttp && new URL(site['api-url']).protocol !== 'https:') {
      throw this.unreachable(site, "its api-url is http:// and the tower's token for it would travel in clear (set BERTH_SITES_ALLOW_HTTP=true to allow it)", 'cleartext');
    }
    const connection = this.connectionFor(entry, await loadUndici());
    const token = await this.token(site);
    const timeoutMs = request.long ? LONG_ANSWER_TIMEOUT_MS : ANSWER_TIMEOUT_MS;
    let response;
    try {
      // A bodiless request whose connection was dropped is sent once more (the connection's retry).
      response = await connection.request({
        path: request.pathAndQuery,
        method: request.method as 'GET',
        headers: { ...request.headers, authorization: `Bearer ${token}` },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(request.body ? { body: request.body } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
      });
    } catch (e) {
      const { reason, kind } = reasonOf(e, timeoutMs);
      throw this.unreachable(site, reason, kind);
    }
    if (response.statusCode === 401) {
      // The site does not know the tower's token. Passing the 401 on would tell the client its own token is bad.
      response.body.resume();
      this.readSecret?.forget(site.vault, site.secret);
      throw this.unreachable(site, `it does not accept the tower's token (secret '${site.secret}' in vault '${site.vault}')`, 'unauthorized');
    }
    return { statusCode: response.statusCode, headers: response.headers, body: response.body };
  }

  close(): Promise<void> {
    return this.connections.close();
  }
}
