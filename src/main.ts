// Process entry: settings -> store -> tokens -> secret store -> site registry -> app -> listen.
// SIGTERM/SIGINT drain in-flight requests, then close the stores. Start-up problems end the process with one line on stderr, never a stack trace.
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readSettings, SettingsError, type Settings } from './settings.js';
import { createLogger } from './logger.js';
import { openConfigStore } from './store/open-store.js';
import { TokenRegistry } from './auth/tokens.js';
import { firstOf } from './principal.js';
import type { OidcAuthenticator } from './auth/oidc/oidc-authenticator.js';
import { protectedResourceMetadata } from './auth/oidc/resource-metadata.js';
import { createApp } from './app.js';
import { VaultSecretStore } from './secrets/secret-store.js';
import { SealMonitor } from './secrets/seal-monitor.js';
import { createSiteRegistry } from './registry/index.js';

// Required, not imported: an ES import of node:http reads every export, and its WebSocket getter loads Node's
// bundled undici (about 13 MiB that Berth never uses).
const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http');

/** How long SIGTERM waits for in-flight requests before closing their connections. */
const DRAIN_TIMEOUT_MS = 10_000;
/** How long closing pools and stores may take after the drain, before the process exits anyway. */
const CLOSE_TIMEOUT_MS = 5_000;

function urlOf(server: Server): string {
  const { address, port } = server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

async function start(settings: Settings): Promise<void> {
  const logger = createLogger(settings.logLevel);
  const store = await openConfigStore({ store: settings.store, dataDir: settings.dataDir, logger });
  const { tokens, generatedAdminToken } = await TokenRegistry.open(store, settings.adminToken);
  let secrets: { store: VaultSecretStore; monitor: SealMonitor } | undefined;
  if (settings.secretStore) {
    const secretStore = new VaultSecretStore(settings.secretStore);
    const monitor = new SealMonitor(secretStore, (state, previous) =>
      logger.warn({ state, previous, address: secretStore.address, ...(state !== 'unsealed' ? { problem: secretStore.lastProblem } : {}) }, `secret store is now ${state}`),
    );
    await monitor.start();
    if (monitor.state !== 'unsealed') logger.warn({ state: monitor.state, address: secretStore.address }, 'secret store is not serving');
    secrets = { store: secretStore, monitor };
  }
  const siteRegistry = await createSiteRegistry({ dataDir: join(settings.dataDir, 'registry'), limits: settings.limits });
  // Single sign-on beside Berth's own tokens: a token Berth issued is looked up first (a hash), then a JWT is checked.
  let sso: OidcAuthenticator | undefined;
  if (settings.oidc) {
    // Loaded only with single sign-on configured: it brings jose and undici (about 7 MiB of a start without it).
    const { OidcAuthenticator } = await import('./auth/oidc/oidc-authenticator.js');
    sso = new OidcAuthenticator(settings.oidc, logger);
    logger.info({ issuer: settings.oidc.issuer, audience: settings.oidc.audience }, 'single sign-on: accepting access tokens of the identity provider');
    sso.prefetch();
  }
  const { listener, close: closeApp, drain: drainApp } = createApp({
    logger,
    store,
    tokens,
    authenticator: sso ? firstOf([tokens, sso]) : tokens,
    ...(settings.oidc ? { ssoMetadata: protectedResourceMetadata(settings.oidc) } : {}),
    bodyLimitBytes: settings.bodyLimitBytes,
    limits: settings.limits,
    siteRegistry,
    registryAnonymousPull: settings.registryAnonymousPull,
    registryMirror: settings.registryMirror,
    sites: { siteName: settings.siteName, tower: settings.tower, allowHttp: settings.sitesAllowHttp, fanOut: settings.fanOut, siteImages: settings.siteImages },
    pullHistory: settings.pullHistory,
    auditRetention: settings.auditRetention,
    metrics: settings.metrics,
    ...(secrets ? { secrets } : {}),
  });

  // Node checks for timed-out requests every connectionsCheckingInterval: a quarter of the timeout keeps it close.
  const server = createServer({ connectionsCheckingInterval: Math.min(30_000, settings.requestTimeoutMs / 4) }, listener);
  server.requestTimeout = settings.requestTimeoutMs;
  server.headersTimeout = Math.min(60_000, settings.requestTimeoutMs);
  // Requests Node's HTTP parser refuses (an oversized header, a NUL in it) never reach Express: answer them with
  // the API's error body too, rather than Node's bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const [status, reason, message] = clientErrorAnswer(err.code);
    const body = JSON.stringify({ errors: [{ 'error-message': message }] });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.listen.port, settings.listen.host, () => resolve());
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining in-flight requests');
    drainApp();
    const force = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS).unref();
    // Keep-alive connections go idle as their last response ends; close them then rather than at their timeout.
    const sweep = setInterval(() => server.closeIdleConnections(), 50).unref();
    server.close(async () => {
      clearTimeout(force);
      clearInterval(sweep);
      // Closing is bounded too: a connection pool waiting on a stuck upstream must not keep a stopped Berth alive.
      const giveUp = setTimeout(() => {
        logger.warn('closing took too long; exiting');
        process.exit(0);
      }, CLOSE_TIMEOUT_MS).unref();
      secrets?.monitor.stop();
      tokens.close();
      await sso?.close();
      await closeApp().catch((err: unknown) => logger.warn({ err }, 'closing the app failed'));
      await siteRegistry.close();
      await store.close();
      clearTimeout(giveUp);
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  // Announced only once SIGTERM is handled: whoever reads the line may stop Berth at once, and must find it draining.
  const url = urlOf(server);
  logger.info({ url, dataDir: settings.dataDir }, 'berth listening');
  // Written outside the logger on purpose: the generated admin token is shown this once and never logged.
  // One write, so whoever watches for the listening line has the token line with it.
  const tokenLine = generatedAdminToken ? `generated admin token (shown once, stored only as a hash): ${generatedAdminToken}\n` : '';
  process.stdout.write(`berth listening on ${url} (data in ${settings.dataDir})\n${tokenLine}`);
}

/** Status line and message for a request Node's HTTP layer ended before Express saw it. */
function clientErrorAnswer(code: string | undefined): [number, string, string] {
  // Headers or body not received in full within the server's headersTimeout / requestTimeout.
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'Request Timeout', 'the request was not received in full in time'];
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'Request Header Fields Too Large', 'request headers too large'];
  return [400, 'Bad Request', 'malformed HTTP request'];
}

function describeStartError(e: unknown): string {
  if (e instanceof SettingsError) return e.message;
  const { code, message } = e as NodeJS.ErrnoException;
  if (code === 'EADDRINUSE') return `cannot listen: address already in use (${message})`;
  if (code === 'EACCES' || code === 'EPERM') return `permission denied: ${message}`;
  return message;
}

try {
  await start(readSettings(process.argv.slice(2), process.env));
} catch (e) {
  process.stderr.write(`berth: ${describeStartError(e)}\n`);
  process.exit(e instanceof SettingsError ? 2 : 1);
}
