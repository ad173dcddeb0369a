// Request bodies: YAML or JSON (and the two PATCH media types), read with a size limit, parsed, and checked for
// a sane shape before anything else sees them. Hostile input (aliases that explode, deep nesting) stops here with a 400.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import express from 'express';
import { BerthError, invalidInput } from '../errors.js';
import { jsonSizeWithin } from '../patch/json-patch.js';
import { parseYamlBody, YamlSyntaxError } from './yaml-parser.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The body as received (after any content-encoding), kept for `?site=`, which hands the site the same bytes. */
    rawBody?: Buffer;
  }
}

const JSON_TYPES = new Set(['application/json', 'application/merge-patch+json', 'application/json-patch+json']);
const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml']);

const MAX_DEPTH = 32;
const MAX_NODES = 100_000;

/**
 * Walks a parsed body, bounded in depth and node count. YAML aliases make a small document a large graph;
 * counting nodes as they are visited keeps the walk (and every later JSON.stringify) bounded.
 */
function checkShape(value: unknown): void {
  let nodes = 0;
  const visit = (node: unknown, depth: number): void => {
    if (++nodes > MAX_NODES) throw invalidInput(`body: more than ${MAX_NODES} values`);
    if (node === null || typeof node !== 'object') return;
    if (depth > MAX_DEPTH) throw invalidInput(`body: nested more than ${MAX_DEPTH} levels deep`);
    for (const child of Array.isArray(node) ? node : Object.values(node)) visit(child, depth + 1);
  };
  visit(value, 0);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const detail = e instanceof SyntaxError ? e.message : 'nested too deeply';
    throw invalidInput(`body: not valid JSON: ${detail}`);
  }
}

async function parseYaml(text: string): Promise<unknown> {
  try {
    return await parseYamlBody(text);
  } catch (e) {
    if (!(e instanceof YamlSyntaxError)) throw e;
    const where = e.line !== undefined ? ` at line ${e.line + 1}, column ${(e.column ?? 0) + 1}` : '';
    throw invalidInput(`body: not valid YAML${where}: ${e.reason}`);
  }
}

/** The media type of the body without parameters, lower-cased. */
export const mediaTypeOf = (req: Request) => (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();

/**
 * Reads and parses the body of a write. Absent bodies stay undefined (the contract then says whether one is
 * required). Types outside the offered set: 415. Over the limit: 413.
 */
export function requestBody(limitBytes: number): RequestHandler[] {
  const raw = express.raw({ type: () => true, limit: limitBytes });
  const readRaw: RequestHandler = (req, res, next) => {
    raw(req, res, (err?: unknown) => {
      if (!err) return next();
      const status = (err as { status?: number }).status;
      if (status === 413) return next(new BerthError('payload-too-large', `body: larger than the limit of ${limitBytes} bytes`));
      if (status === 415) return next(new BerthError('unsupported-media-type', 'body: unsupported content encoding'));
      next(invalidInput(`body: could not be read: ${(err as Error).message}`));
    });
  };
  /** The parsed body, undefined when there is none. */
  const parse = async (req: Request): Promise<unknown> => {
    const bytes: unknown = req.body;
    if (!Buffer.isBuffer(bytes) || bytes.length === 0) return undefined;
    const type = mediaTypeOf(req);
    const isJson = JSON_TYPES.has(type);
    if (!isJson && !YAML_TYPES.has(type)) {
      throw new BerthError('unsupported-media-type', `body: content type '${type || '(none)'}' is not supported; use application/json or application/yaml`);
    }
    const charset = /charset=([^;]+)/i.exec(req.get('content-type') ?? '')?.[1]?.trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8') {
      throw new BerthError('unsupported-media-type', `body: charset '${charset}' is not supported; use utf-8`);
    }
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
    const value = isJson ? parseJson(text) : await parseYaml(text);
    checkShape(value);
    // YAML aliases repeat a value without repeating its bytes: what the body says must fit the limit too.
    if (!isJson && jsonSizeWithin(value, limitBytes) > limitBytes) {
      throw new BerthError('payload-too-large', `body: expands to more than the limit of ${limitBytes} bytes (YAML aliases)`);
    }
    req.rawBody = bytes;
    return value;
  };
  return [readRaw, (req: Request, _res: Response, next: NextFunction) => {
    parse(req).then((value) => {
      req.body = value;
      next();
    }, next);
  }];
}
