// Request validation from the contract (express-openapi-validator): every /v1 request is checked against
// openapi/berth.yaml before a route sees it. The validator is built at the first request that reaches it, not at
// start-up: loading it and compiling the document's schemas is most of a start (~250 ms, ~10 MiB), and a Berth that
// only serves /v2 or /healthz never needs it. A failure to build it fails those requests (500), never skips the check.
// The document's own validity (OpenAPI 3.1, JSON Schema 2020-12) is checked by test/unit/contract-document.test.ts:
// it cannot change while Berth runs, so it is not checked again at every start.
import { Router, type RequestHandler } from 'express';
import { validatorDocument } from './validator-document.js';
import { cacheValidatorRouteMatchers } from './route-matcher-cache.js';

export function contractRequestValidator(): RequestHandler {
  let built: Promise<Router> | undefined;
  const build = async () => {
    const OpenApiValidator = await import('express-openapi-validator');
    cacheValidatorRouteMatchers();
    const router = Router();
    router.use(
      OpenApiValidator.middleware({
        apiSpec: validatorDocument() as never,
        validateApiSpec: false,
        validateRequests: { allowUnknownQueryParameters: false },
        validateResponses: false,
        validateSecurity: false,
        // The contract takes no multipart bodies: no multer, and one middleware less on every request.
        fileUploader: false,
        ignorePaths: /^\/(?!v1\/)/,
      }),
    );
    return router;
  };
  return (req, res, next) => {
    if (!req.path.startsWith('/v1/')) return next();
    built ??= build();
    built.then((router) => router(req, res, next), next);
  };
}
