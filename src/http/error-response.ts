// The one place where errors become HTTP: a status code per error kind and the error body of the API conventions
// (`errors: [{error-message, error-info}]`), negotiated like any answer. Anything unexpected is a logged 500.
import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Logger } from 'pino';
import { BerthError, resourceExhaustion, type ErrorKind } from '../errors.js';
import { answerFormat, serialize, type AnswerFormat } from './answer.js';

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

export const statusOf = (kind: ErrorKind): number => STATUS[kind];

/** The error body of API.md for `error`: what a failed request answers, and what a stream ends with when it fails. */
export const errorBodyOf = (error: BerthError) => ({ errors: [{ 'error-message': error.message, ...(error.info ? { 'error-info': error.info } : {}) }] });

/** What a client is told of an unexpected error (a bug): nothing of it but that it happened. */
export const internalError = () => new BerthError('internal', 'internal error: a bug in Berth; the request id identifies it in the log');

/** Writes `error`'s answer in `format` on Node's response (Express's, or a plain read's before Express). */
export function writeErrorAnswer(res: ServerResponse, error: BerthError, format: AnswerFormat): void {
  const body = serialize(errorBodyOf(error), format);
  if (error.kind === 'unauthenticated') res.setHeader('WWW-Authenticate', 'Bearer realm="berth"');
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(Math.ceil(error.retryAfterSeconds)));
  res.writeHead(STATUS[error.kind], { 'Content-Type': `${format.mediaType}; charset=utf-8`, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function writeError(req: Request, res: Response, error: BerthError): void {
  let format;
  try {
    format = answerFormat(req);
  } catch {
    format = { mediaType: 'application/json', yaml: false };
  }
  writeErrorAnswer(res, error, format);
}

/**
 * What a failed request is told, however its answer goes out (an error answer, or the last line of a stream): the
 * machine's condition (a full disk, no file descriptors left), the client's or a remote's error, or for a bug only
 * that it happened. The machine's failure is not the client's: the request's log line carries its cause, at error
 * level, once; a bug is logged here.
 */
export function failureOf(err: unknown, req: { log?: Logger }, res: ServerResponse & { err?: Error }): BerthError {
  const exhausted = resourceExhaustion(err);
  if (exhausted) {
    res.err = err as Error;
    return exhausted;
  }
  if (err instanceof BerthError) return err;
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
