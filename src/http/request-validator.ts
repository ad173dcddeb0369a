// Request validation from the contract (express-openapi-validator): mounted at /v1, it checks every request against
// openapi/berth.yaml before a route sees it. The validator is built at the first request that reaches it, not at
// start-up: loading it and compiling the document's schemas is most of a start (~250 ms, ~10 MiB), and a Berth that
// only serves /v2 or /healthz never needs it. A failure to build it fails those requests (500), never skips the check.
// The document's own validity (OpenAPI 3.1, JSON Schema 2020-12) is checked by test/unit/contract-document.test.ts:
// it cannot change while Berth runs, so it is not checked again at every start.
import { createRequire } from 'node:module';
import { parse as legacyUrlParse } from 'node:url';
import type { RequestHandler } from 'express';
import { validatorDocument } from '../contract/validator-document.js';
import { cacheValidatorRouteMatchers } from './route-matcher-cache.js';
import { inSequence } from './in-sequence.js';
import { Lazy } from '../lazy.js';

// Required when first needed, not imported: a failed ES import stays failed for the life of the process, a failed
// require is tried again (see http/undici.ts). Resolved now, while file descriptors are surely free.
const require = createRequire(import.meta.url);
const validatorEntry = require.resolve('express-openapi-validator');

/**
 * The validator calls url.parse() on every request. Until url.parse() has printed its deprecation warning once, Node
 * checks on every call whether the caller is inside node_modules, by capturing the stack (about 10 µs on a loaded
 * machine); and it never prints the warning for a caller inside node_modules, so for the validator it checks forever
 * (nodejs/node pull request #60991). One call from here, with deprecation warnings muted just for it, settles it.
 */
function latchUrlParseDeprecation(): void {
  const muted = process.noDeprecation;
  process.noDeprecation = true;
  try {
    legacyUrlParse('/');
  } finally {
    process.noDeprecation = muted;
  }
}

export function contractRequestValidator(): RequestHandler {
  const build = async (): Promise<RequestHandler> => {
    const OpenApiValidator = require(validatorEntry) as typeof import('express-openapi-validator');
    cacheValidatorRouteMatchers();
    latchUrlParseDeprecation();
    const handlers = OpenApiValidator.middleware({
      apiSpec: validatorDocument() as never,
      validateApiSpec: false,
      validateRequests: { allowUnknownQueryParameters: false },
      validateResponses: false,
      validateSecurity: false,
      // The contract takes no multipart bodies: no multer, and one middleware less on every request.
      fileUploader: false,
    });
    // Run one after the other, as a router would run them, without a router's bookkeeping.
    return inSequence(handlers);
  };
  // A build that failed (no file descriptor left to read the package) is tried again by the next request.
  const built = new Lazy(build);
  let validate: RequestHandler | undefined;
  return (req, res, next) => {
    if (validate) return validate(req, res, next);
    built.get().then((handler) => {
      validate = handler;
      handler(req, res, next);
    }, next);
  };
}
