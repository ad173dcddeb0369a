// Builds the Express app. Middleware order, top to bottom: request log, open endpoints (health, contract),
// the site registry (/v2, streaming bodies), then /v1: seal gate, access, body, contract validation, routes;
// unknown paths; errors last.
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { contractJson, contractYaml } from './contract/openapi.js';
import { contractRequestValidator } from './contract/request-validator.js';
import type { ConfigStore } from './store/config-store.js';
import type { Authenticator } from './auth/principal.js';
import type { TokenRegistry } from './auth/tokens.js';
import { ConfigList } from './config/config-list.js';
import { remoteRegistrySpec } from './image-registry/remote-registry.js';
import { imageRegistryRoutes } from './image-registry/routes.js';
import { tokenRoutes } from './auth/routes.js';
import { requestLog } from './http/request-log.js';
import { bearerToken, requireAccess } from './http/access.js';
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
import { RegistryClients } from './image-registry/registry-clients.js';
import { remoteRegistryOperationRoutes } from './image-registry/operations/routes.js';
import { pullRoutes } from './image-registry/pull/routes.js';
import type { OperationDeps } from './image-registry/operation-deps.js';
import { VerificationLog } from './image-registry/operations/verification-status.js';
import { createSites } from './sites/sites.js';
import type { TowerSettings } from './sites/tower-client.js';

export interface AppParts {
  logger: Logger;
  store: ConfigStore;
  tokens: TokenRegistry;
  /** Who may call /v1; the token registry, later with single sign-on behind it. */
  authenticator: Authenticator;
  bodyLimitBytes: number;
  /** The secret store and its seal monitor; absent when none is configured. */
  secrets?: { store: SecretStore; monitor: SealMonitor };
  siteRegistry: SiteRegistry;
  registryAnonymousPull: boolean;
  /** This Berth among sites: its name (default `control-tower`), and at a site the tower it follows. */
  sites?: { siteName: string; tower?: TowerSettings | undefined };
}

export interface BerthApp {
  app: Express;
  /** Closes what the app opened (connection pools to remote registries). */
  close(): Promise<void>;
  /** Ends long-polls (the sites' change feed) at once; called when the server starts draining. */
  drain(): void;
}

export function createApp(parts: AppParts): BerthApp {
  const app = express();
  app.disable('x-powered-by');
  // ETags are store revisions, set by the routes; Express's body hashes would contradict them.
  app.set('etag', false);
  app.use(requestLog(parts.logger));

  app.get('/healthz', (req, res) => sendAnswer(req, res, 200, { status: 'ok' }));
  app.get('/readyz', async (req, res) => {
    const store = await parts.store.healthy();
    const secretStore = parts.secrets ? parts.secrets.monitor.state : 'not configured';
    const ready = store && (secretStore === 'unsealed' || secretStore === 'not configured');
    sendAnswer(req, res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks: { store: store ? 'ok' : 'unavailable', 'secret-store': secretStore } });
  });
  app.get('/openapi.yaml', (_req, res) => res.type('application/yaml').send(contractYaml));
  app.get('/openapi.json', (_req, res) => res.type('application/json').send(contractJson));

  // The site registry's protocol: Berth's API tokens, as a bearer token or a Basic password.
  app.use(
    '/v2',
    createRegistryRouter(parts.siteRegistry, {
      async authenticate(authorization) {
        const token = bearerToken(authorization);
        const principal = token ? await parts.authenticator.authenticate(token) : undefined;
        return principal && { role: principal.role };
      },
      anonymousPull: parts.registryAnonymousPull,
    }),
  );

  if (parts.secrets) app.use('/v1', sealGate(parts.secrets.monitor, parts.secrets.store));
  // `?site=` is forwarded (or dropped, naming this Berth) before any body is read or route is reached.
  const sites = createSites({ store: parts.store, secrets: parts.secrets?.store, logger: parts.logger, siteName: parts.sites?.siteName ?? 'control-tower', tower: parts.sites?.tower });
  app.use('/v1', inSequence([requireAccess(parts.authenticator), ...sites.middleware, ...requestBody(parts.bodyLimitBytes)]));
  app.use(canonicalRepositoryPaths);
  app.use(contractRequestValidator());

  const registries = new ConfigList(parts.store, remoteRegistrySpec);
  const clients = new RegistryClients(parts.secrets?.store);
  const verifications = new VerificationLog();
  const deps: OperationDeps = { registries, clients, secrets: parts.secrets?.store, siteRegistry: parts.siteRegistry, verifications };
  app.use(
    '/v1',
    imageRegistryRoutes(registries, verifications),
    remoteRegistryOperationRoutes(deps),
    pullRoutes(deps),
    siteRepositoryRoutes(parts.siteRegistry),
    tokenRoutes(parts.tokens),
    sites.routes,
  );

  app.use((req, _res, next) => next(notFound(`no such resource: ${req.method} ${req.path}`)));
  app.use(errorResponder);
  return {
    app,
    close: async () => {
      await Promise.all([clients.close(), sites.close()]);
    },
    drain: () => sites.drain(),
  };
}
