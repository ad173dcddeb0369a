// Response negotiation: YAML or JSON by the request's Accept header (with q-values), the same for answers and errors.
import type { Request, Response } from 'express';
import yaml from 'js-yaml';
import { BerthError } from '../errors.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];
/** The media types every answer is offered in; a route offering another (a stream) negotiates it among these. */
export const OFFERED = ['application/json', ...YAML_TYPES];

export type AnswerFormat = { mediaType: string; yaml: boolean };

/**
 * The format to answer in; a request with no Accept (or `*\/*`) gets JSON. Any YAML alias the client accepts is
 * answered as `application/yaml`, the one YAML type of the contract. Throws `not-acceptable`.
 */
export function answerFormat(req: Request): AnswerFormat {
  const chosen = req.accepts(OFFERED);
  if (!chosen) throw new BerthError('not-acceptable', `cannot answer in any type '${req.get('accept')}' allows; offered: application/json, application/yaml`);
  const yaml = YAML_TYPES.includes(chosen);
  return { mediaType: yaml ? 'application/yaml' : 'application/json', yaml };
}

export function serialize(body: unknown, format: AnswerFormat): string {
  // lineWidth -1: never fold long strings (certificates, digests) across lines.
  return format.yaml ? yaml.dump(body, { lineWidth: -1, noRefs: true }) : JSON.stringify(body);
}

/** Sends `body` with `status` in the negotiated format. */
export function sendAnswer(req: Request, res: Response, status: number, body: unknown): void {
  const format = answerFormat(req);
  res.status(status).type(`${format.mediaType}; charset=utf-8`).send(serialize(body, format));
}

/** A 2xx with no body (204, or 201 without an answer body). */
export function sendEmpty(res: Response, status: number): void {
  res.status(status).end();
}
