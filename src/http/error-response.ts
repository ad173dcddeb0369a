// The one place where errors become HTTP: a status code per error kind and the error body of the API conventions
// (`errors: [{error-message, error-info}]`), negotiated like any answer. Anything unexpected is a logged 500.
import type { ErrorRequestHandler, Request, Response } from 'express';
import { BerthError, resourceExhaustion, type ErrorKind } from '../errors.js';
import { plainSchemaMessage, pointerToFieldPath } from '../contract/openapi.js';
import { answerFormat, serialize } from './answer.js';

const STATUS: Record<ErrorKind, number> = {
  'invalid-input': 400,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  'method-not-allowed': 405,
  'not-acceptable': 406,
  'already-exists': 409,
  conflict: 409,
  'precondition-failed': 412,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'range-not-satisfiable': 416,
  'upstream-failure': 502,
  unavailable: 503,
  'insufficient-storage': 507,
  internal: 500,
};

const KIND_BY_STATUS = new Map<number, ErrorKind>(Object.entries(STATUS).map(([kind, status]) => [status, kind as ErrorKind]));

export const statusOf = (kind: ErrorKind): number => STATUS[kind];

interface ValidatorError {
  status: number;
  message: string;
  errors?: { path?: string; message?: string }[];
}

const isValidatorError = (e: unknown): e is ValidatorError =>
  typeof e === 'object' && e !== null && typeof (e as ValidatorError).status === 'number' && Array.isArray((e as ValidatorError).errors);

/** Where in the request a validator error points, for the problems that concern one part of it. */
const REQUEST_PARTS = new Set(['body', 'query', 'params', 'headers']);

/** `/body/credentials/0/repository` -> `credentials[0].repository`; `/query/fields` -> `query parameter 'fields'`. */
function describeValidatorPath(location: string, rest: string[]): string {
  const field = pointerToFieldPath(`/${rest.join('/')}`);
  switch (location) {
    case 'body':
      return field || 'body';
    case 'query':
      return `query parameter '${field}'`;
    case 'params':
      // The validator sees camel-cased parameter names (see contract/validator-document.ts); show the contract's.
      return `path parameter '${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}'`;
    default:
      return `header '${field}'`;
  }
}

/**
 * Errors about the request as a whole (no body where one is required, an undocumented path or method) carry the
 * validator's route template as their path; say them plainly instead of showing its internals.
 */
function wholeRequestMessage(req: Request, status: number): string {
  switch (status) {
    case 415:
      return `body: required, with content type application/json or application/yaml (got ${req.get('content-type') ?? 'none'})`;
    case 405:
      return `method ${req.method} is not allowed on ${req.path}`;
    case 404:
      return `no such resource: ${req.method} ${req.path}`;
    default:
      return 'the request does not match the API contract';
  }
}

/** express-openapi-validator and body parsing report errors their own way; make them ours. */
export function toBerthError(err: unknown, req: Request): BerthError | undefined {
  if (err instanceof BerthError) return err;
  if (!isValidatorError(err)) return undefined;
  const kind = KIND_BY_STATUS.get(err.status) ?? 'invalid-input';
  const located = (err.errors ?? []).map((e) => {
    const [, location = '', ...rest] = (e.path ?? '').replace(/^\./, '/').replace(/\./g, '/').split('/');
    return { location, rest, message: plainSchemaMessage(e.message ?? err.message) };
  });
  const parts = located.filter((e) => REQUEST_PARTS.has(e.location));
  if (parts.length === 0) return new BerthError(kind, wholeRequestMessage(req, err.status));
  const problems = parts.map((e) => `${describeValidatorPath(e.location, e.rest)}: ${e.message}`);
  const first = parts[0]!;
  const info = first.location === 'body' ? { path: `/${first.rest.join('/')}` } : undefined;
  return new BerthError(kind, [...new Set(problems)].join('; '), info);
}

/** The error body of API.md for `error`: what a failed request answers, and what a stream ends with when it fails. */
export const errorBodyOf = (error: BerthError) => ({ errors: [{ 'error-message': error.message, ...(error.info ? { 'error-info': error.info } : {}) }] });

/** What a client is told of an unexpected error (a bug): nothing of it but that it happened. */
export const internalError = () => new BerthError('internal', 'internal error: a bug in Berth; the request id identifies it in the log');

function writeError(req: Request, res: Response, error: BerthError): void {
  const status = STATUS[error.kind];
  if (error.kind === 'unauthenticated') res.set('WWW-Authenticate', 'Bearer realm="berth"');
  if (error.retryAfterSeconds !== undefined) res.set('Retry-After', String(Math.ceil(error.retryAfterSeconds)));
  let format;
  try {
    format = answerFormat(req);
  } catch {
    format = { mediaType: 'application/json', yaml: false };
  }
  res.status(status).type(`${format.mediaType}; charset=utf-8`).send(serialize(errorBodyOf(error), format));
}

/**
 * What a failed request is told, however its answer goes out (an error answer, or the last line of a stream): the
 * machine's condition (a full disk, no file descriptors left), the client's or a remote's error, or for a bug only
 * that it happened. The machine's failure is not the client's: the request's log line carries its cause, at error
 * level, once; a bug is logged here.
 */
export function failureOf(err: unknown, req: Request, res: Response): BerthError {
  const exhausted = resourceExhaustion(err);
  if (exhausted) {
    res.err = err as Error;
    return exhausted;
  }
  const known = toBerthError(err, req);
  if (known) return known;
  req.log?.error({ err }, 'unexpected error');
  return internalError();
}

export const errorResponder: ErrorRequestHandler = (err, req, res, next) => {
  if (res.headersSent) {
    // Nobody can be told any more, but the machine's failure is still logged with the request.
    if (resourceExhaustion(err)) res.err = err as Error;
    return next(err);
  }
  writeError(req, res, failureOf(err, req, res));
};
