// Reading request bodies and writing responses the way Vault's HTTP layer does: JSON with
// `Cache-Control: no-store`, errors as `{"errors": [...]}`, 204 for empty successes.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkJsonLimits } from './json-limits.js';
import type { JsonObject } from './logical.js';
import { VaultError } from './vault-error.js';

/** Vault's default max_request_size. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > MAX_BODY_BYTES) throw new VaultError(413, ['http: request body too large']);
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof VaultError) throw err;
    // The connection ended mid-body (the client left, or its read deadline passed): nobody to answer.
    throw new VaultError(400, ['failed to read the request body: the connection was closed']);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body; an empty body is an empty object, as for Vault (io.EOF is ignored). */
export function parseJsonObject(body: Buffer): JsonObject {
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  checkJsonLimits(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Node's parse errors quote the input, which may hold a secret: say only that it is invalid.
    throw new VaultError(400, ['failed to parse JSON input: the body is not valid JSON']);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new VaultError(400, ['failed to parse JSON input: the body must be a JSON object']);
  }
  return parsed as JsonObject;
}

function setCommonHeaders(res: ServerResponse): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  setCommonHeaders(res);
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendNoContent(res: ServerResponse): void {
  setCommonHeaders(res);
  res.writeHead(204);
  res.end();
}

export function sendError(res: ServerResponse, err: VaultError): void {
  sendJson(res, err.status, { errors: err.errors });
}

/** The client token: `X-Vault-Token`, or `Authorization: Bearer <token>`. */
export function clientToken(req: IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  const vaultToken = Array.isArray(header) ? header[0] : header;
  if (vaultToken) return vaultToken;
  const authorization = req.headers.authorization;
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return match?.[1];
}

/**
 * Go's url.Values flattened the way Vault's parseQuery does: one value stays a string. Keys are the
 * client's, so the object has no prototype (`?__proto__=a&__proto__=b` is just a parameter).
 */
export function queryData(params: URLSearchParams, omit: readonly string[] = []): JsonObject {
  const data: JsonObject = Object.create(null) as JsonObject;
  for (const key of new Set(params.keys())) {
    if (omit.includes(key)) continue;
    const values = params.getAll(key);
    data[key] = values.length === 1 ? values[0] : values;
  }
  return data;
}

/** Go's strconv.ParseBool. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}
