// Builds the Express app. Middleware order, top to bottom: request log, open endpoints (health, contract),
// then /v1: access, body, contract validation, routes; unknown paths; errors last.
import express, { type Express } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Logger } from 'pino';
import { contractJson, contractYaml } from './contract/openapi.js';
import { validatorDocument } from './contract/validator-document.js';
import type { ConfigStore } from './store/config-store.js';
import type { Authenticator } from './auth/principal.js';
import type { TokenRegistry } from './auth/tokens.js';
import { ConfigList } from './config/config-list.js';
import { remoteRegistrySpec } from './image-registry/remote-registry.js';
import { imageRegistryRoutes } from './image-registry/routes.js';
import { tokenRoutes } from './auth/routes.js';
import { requestLog } from './http/request-log.js';
import { requireAccess } from './http/access.js';
import { requestBody } from './http/request-body.js';
import { errorResponder } from './http/error-response.js';
import { sendAnswer } from './http/answer.js';
import { notFound } from './errors.js';

export interface AppParts {
  logger: Logger;
  store: ConfigStore;
  tokens: TokenRegistry;
  /** Who may call /v1; the token registry, later with single sign-on behind it. */
  authenticator: Authenticator;
  bodyLimitBytes: number;
}

export function createApp(parts: AppParts): Express {
  const app = express();
  app.disable('x-powered-by');
  // ETags are store revisions, set by the routes; Express's body hashes would contradict them.
  app.set('etag', false);
  app.use(requestLog(parts.logger));

  app.get('/healthz', (req, res) => sendAnswer(req, res, 200, { status: 'ok' }));
  app.get('/readyz', async (req, res) => {
    const store = await parts.store.healthy();
    sendAnswer(req, res, store ? 200 : 503, { status: store ? 'ready' : 'not ready', checks: { store: store ? 'ok' : 'unavailable' } });
  });
  app.get('/openapi.yaml', (_req, res) => res.type('application/yaml').send(contractYaml));
  app.get('/openapi.json', (_req, res) => res.type('application/json').send(contractJson));

  app.use('/v1', requireAccess(parts.authenticator), ...requestBody(parts.bodyLimitBytes));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: validatorDocument() as never,
      validateRequests: { allowUnknownQueryParameters: false },
      validateResponses: false,
      validateSecurity: false,
      ignorePaths: /^\/(?!v1\/)/,
    }),
  );

  const registries = new ConfigList(parts.store, remoteRegistrySpec);
  app.use('/v1', imageRegistryRoutes(registries), tokenRoutes(parts.tokens));

  app.use((req, _res, next) => next(notFound(`no such resource: ${req.method} ${req.path}`)));
  app.use(errorResponder);
  return app;
}
