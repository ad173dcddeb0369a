// Builds the server's request listener: the request log and request metrics (request-hooks.ts) for every request, then
// a plain read of one configuration entry (plain-reads.ts) or the Express app. The app's middleware order, top to
// bottom: the site registry (/v2, streaming bodies, its own path grammar and access, pull-through for mirrored
// registries); the path grammar for every other path; /v1: the contract operation the path resolves to,
// authentication, the role check, seal gate, (at a site) the 403 on config writes, body, contract validation,
// `?sites=` fan-out and `?site=` forwarding, routes; endpoints outside /v1 (health, contract, metrics, the docs page,
// SSO metadata); unknown paths; errors last.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import type { Logger } from 'pino';
import { contract, contractJson, contractYaml } from './contract/openapi.js';
import { contractRequestValidator } from './http/request-validator.js';
import type { ConfigStore } from './store/config-store.js';
import { bearerToken, type Authenticator } from './principal.js';
import type { TokenRegistry } from './auth/tokens.js';
import { createImageRegistry } from './image-registry/image-registry.js';
import { tokenRoutes } from './auth/routes.js';
import { requestLog } from './http/request-log.js';
import { onEveryRequest } from './http/request-hooks.js';
import { authenticate, authorize } from './http/access.js';
import { operationTable, refuseOtherSpellings, resolveOperation } from './http/path-grammar.js';
import { PlainReads } from './http/plain-reads.js';
import { requestBody } from './http/request-body.js';
import { inSequence } from './http/in-sequence.js';
import { errorResponder } from './http/error-response.js';
import { sendAnswer } from './http/answer.js';
import { notFound } from './errors.js';
import type { SecretStore } from './secrets/secret-store.js';
import type { SealMonitor } from './secrets/seal-monitor.js';
import { sealGate } from './secrets/seal-gate.js';
import { createRegistryRouter, type SiteRegistry } from './registry/index.js';
import { canonicalRepositoryPaths, siteRepositoryRoutes } from './registry/repository-routes.js';
import { createSites } from './sites/sites.js';
import type { TowerSettings } from './sites/tower-client.js';
import type { FanOutOptions } from './sites/fan-out.js';
import type { ReconcilerOptions } from './sites/site-image-reconciler.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { PROTECTED_RESOURCE_METADATA_PATH, type ProtectedResourceMetadata } from './auth/oidc/resource-metadata.js';
import type { MetricsSettings, RegistryMirrorSettings } from './settings.js';
import { httpMetrics } from './http/http-metrics.js';
import { collectProcessMetrics } from './metrics/metrics.js';
import { METRICS_PATH, metricsRoute } from './metrics/routes.js';
import { labelPullsByRepository } from './image-registry/pull/pull-metrics.js';
import { DOCS_PATH, docsRoutes } from './docs/routes.js';
import { AuditTrail, type AuditRetention } from './audit/audit-trail.js';
import { auditRoutes } from './audit/routes.js';

export interface AppParts {
  logger: Logger;
  store: ConfigStore;
  tokens: TokenRegistry;
  /** Who may call /v1 and /v2: the token registry, and single sign-on behind it when configured. */
  authenticator: Authenticator;
  bodyLimitBytes: number;
  /** Bounds on fetches, documents and sessions (limits.ts); the defaults when absent. */
  limits?: Limits;
  /** The secret store and its seal monitor; absent when none is configured. */
  secrets?: { store: SecretStore; monitor: SealMonitor };
  siteRegistry: SiteRegistry;
  registryAnonymousPull: boolean;
  /** With single sign-on: what clients learn at /.well-known/oauth-protected-resource (issuer, audience, CLI client). */
  ssoMetadata?: ProtectedResourceMetadata;
  /**
   * This Berth among sites: its name (default `control-tower`), at a site the tower it follows, and whether sites'
   * api-urls may be http:// (BERTH_SITES_ALLOW_HTTP; default no: the tower's token for a site must not travel in clear).
   */
  sites?: { siteName: string; tower?: TowerSettings | undefined; allowHttp?: boolean; fanOut?: FanOutOptions; siteImages?: Partial<ReconcilerOptions> };
  /** Finished pulls kept listed at /v1/state/image-registry/pulls. */
  pullHistory: number;
  /** How much of the audit trail (/v1/state/system/audit) the store keeps. */
  auditRetention: AuditRetention;
  /** Who may scrape /metrics, and how far its labels go (sites, repositories). */
  metrics: MetricsSettings;
  /** How runtimes reach this site registry, for the hosts.toml of pull-through (URL, CA). */
  registryMirror?: RegistryMirrorSettings;
}

export interface BerthApp {
  /** The server's request listener: the request log and metrics, then a plain read (plain-reads.ts) or `app`. */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** Closes what the app opened (connection pools to remote registries). */
  close(): Promise<void>;
  /** Ends long-polls (the sites' change feed) at once; called when the server starts draining. */
  drain(): void;
}

export function createApp(parts: AppParts): BerthApp {
  const app = express();
  // One spelling per path (path-grammar.ts): set before the first route creates the app's router.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.disable('x-powered-by');
  // ETags are store revisions, set by the routes; Express's body hashes would contradict them.
  app.set('etag', false);
  collectProcessMetrics();
  labelPullsByRepository(parts.metrics.repositoryLabels);
  const openPaths = ['/healthz', '/readyz', '/openapi.yaml', '/openapi.json', METRICS_PATH, DOCS_PATH, PROTECTED_RESOURCE_METADATA_PATH];
  const onArrival = onEveryRequest([requestLog(parts.logger), httpMetrics(openPaths)]);

  const siteName = parts.sites?.siteName ?? 'control-tower';
  const limits = parts.limits ?? DEFAULT_LIMITS;
  // What a config document may grow to by any write: a PUT's body limit, and a JSON Patch's operations.
  const documentBounds = { documentBytes: parts.bodyLimitBytes, patchOperations: limits.patchOperations };
  const imageRegistry = createImageRegistry({
    store: parts.store,
    secrets: parts.secrets?.store,
    siteRegistry: parts.siteRegistry,
    limits,
    documentBounds,
    pullHistory: parts.pullHistory,
    siteName,
    logger: parts.logger,
    containerdHosts: { ...parts.registryMirror, anonymousPull: parts.registryAnonymousPull },
  });

  // The site registry's protocol: Berth's API tokens, as a bearer token or a Basic password, or the short-lived tokens
  // of the Docker token flow it hands out at /v2/token (registry/http/access.ts); pull-through for mirrored registries.
  app.use(
    '/v2',
    createRegistryRouter(
      parts.siteRegistry,
      {
        async authenticate(authorization) {
          const token = bearerToken(authorization);
          const principal = token ? await parts.authenticator.authenticate(token) : undefined;
          // One name per caller for its upload sessions: a single sign-on user by issuer and subject, which cannot
          // pass for an API token's name (a username is the user's to choose at some providers).
          return principal && { role: principal.role, name: principal.sso ? `sso:${principal.sso.issuer}#${principal.sso.subject}` : principal.name };
        },
        anonymousPull: parts.registryAnonymousPull,
      },
      imageRegistry.pullThrough,
    ),
  );

  app.use(refuseOtherSpellings);
  // Repository names written with plain slashes take the contract's one-segment form before /v1 resolves the path.
  app.use(canonicalRepositoryPaths);
  const sites = createSites({
    store: parts.store,
    secrets: parts.secrets?.store,
    logger: parts.logger,
    siteName,
    tower: parts.sites?.tower,
    allowHttp: parts.sites?.allowHttp ?? false,
    ...(parts.sites?.fanOut ? { fanOut: parts.sites.fanOut } : {}),
    siteImages: { registries: imageRegistry.registries, pull: imageRegistry.pullByReference, siteRegistry: parts.siteRegistry, ...(parts.sites?.siteImages ? { reconciler: parts.sites.siteImages } : {}) },
    metricsSiteSeries: parts.metrics.siteSeries,
    documentBounds,
  });
  // Every /v1 request is one operation of the contract, checked as that operation whatever else it carries;
  // authentication comes first, so callers without a token learn nothing (not even whether a secret store is up).
  // One middleware running them in turn (inSequence), not one router layer each with its own path match.
  const operations = operationTable(contract);
  app.use(
    '/v1',
    inSequence([
      resolveOperation(operations),
      authenticate(parts.authenticator),
      authorize,
      ...(parts.secrets ? [sealGate(parts.secrets.monitor)] : []),
      ...sites.beforeBody,
      ...requestBody(parts.bodyLimitBytes),
      contractRequestValidator(),
      // `?sites=` and `?site=` are carried out at the sites only once the request passed every check it would pass here.
      ...sites.forwarding,
    ]),
  );

  const audit = new AuditTrail(parts.store, {
    siteName,
    retention: parts.auditRetention,
    logger: parts.logger.child({ component: 'audit' }),
  });
  audit.start();
  app.use(
    '/v1',
    ...imageRegistry.routes,
    siteRepositoryRoutes(parts.siteRegistry),
    tokenRoutes(parts.tokens),
    sites.routes,
    auditRoutes(audit),
  );

  // Endpoints outside /v1, after it: a /v1 request, answered or failed there, never walks their layers.
  app.get('/healthz', (req, res) => sendAnswer(req, res, 200, { status: 'ok' }));
  app.get('/readyz', async (req, res) => {
    const store = await parts.store.healthy();
    const secretStore = parts.secrets ? parts.secrets.monitor.state : 'not configured';
    const ready = store && (secretStore === 'unsealed' || secretStore === 'not configured');
    sendAnswer(req, res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks: { store: store ? 'ok' : 'unavailable', 'secret-store': secretStore } });
  });
  app.get('/openapi.yaml', (_req, res) => res.type('application/yaml').send(contractYaml));
  app.get('/openapi.json', (_req, res) => res.type('application/json').send(contractJson));
  app.get(METRICS_PATH, metricsRoute({ authenticator: parts.authenticator, anonymous: parts.metrics.anonymous }));
  app.use(docsRoutes({ metricsAnonymous: parts.metrics.anonymous }));
  const { ssoMetadata } = parts;
  if (ssoMetadata) app.get(PROTECTED_RESOURCE_METADATA_PATH, (req, res) => sendAnswer(req, res, 200, ssoMetadata));

  app.use((req, _res, next) => next(notFound(`no such resource: ${req.method} ${req.path}`)));
  app.use(errorResponder);

  const plainReads = new PlainReads({ resolve: operations, authenticator: parts.authenticator, seal: parts.secrets?.monitor, logger: parts.logger });
  plainReads.add('/v1/config/image-registry/remote-registries', imageRegistry.registries);
  plainReads.add('/v1/config/sites', sites.lists.sites);
  plainReads.add('/v1/config/image-registry/site-images', sites.lists.siteImages);
  plainReads.forwardWith(sites.forwarder);
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    onArrival(req, res);
    if (!plainReads.accepts(req)) return app(req, res);
    // The request log (onArrival) gave it its id.
    void plainReads.answer(req as IncomingMessage & { id: string }, res).then((answered) => answered || app(req, res));
  };
  return {
    listener,
    close: async () => {
      audit.stop();
      await Promise.all([imageRegistry.close(), sites.close()]);
    },
    drain: () => sites.drain(),
  };
}
