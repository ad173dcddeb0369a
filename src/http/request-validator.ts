// Request validation from the contract: mounted at /v1 after the path resolved to its operation (path-grammar.ts)
// and the body was read (request-body.ts), it checks the request against that operation's part of openapi/berth.yaml
// (contract/operation-checks.ts) before a route sees it. Each operation's checks are compiled at its first request:
// a Berth that only serves /v2 or /healthz never loads Ajv.
// The document's own validity (OpenAPI 3.1, JSON Schema 2020-12) is checked by test/unit/contract-document.test.ts:
// it cannot change while Berth runs, so it is not checked again at every start.
import type { Request, RequestHandler } from 'express';
import { operationCheck } from '../contract/operation-checks.js';
import { mediaTypeOf } from './request-body.js';

const NO_PARAMETERS: Readonly<Record<string, string>> = Object.freeze({});

export const contractRequestValidator = (): RequestHandler => (req: Request, _res, next) => {
  const operation = req.operation;
  // resolveOperation runs first on every /v1 request; without an operation there is nothing the contract allows.
  if (!operation) return next(new Error('contract validation reached without a resolved operation'));
  next(
    operationCheck(operation.template, operation.method)({
      path: req.operationParameters ?? NO_PARAMETERS,
      query: req.query,
      mediaType: mediaTypeOf(req) || undefined,
      body: req.body,
    }),
  );
};
