// Checks an answer against the OpenAPI contract: the status must be documented for the operation, and the body
// must match the documented schema for its media type (or be empty where none is documented).
import assert from 'node:assert/strict';
import { contract, describeAjvErrors, validatorFor } from '../../src/contract/openapi.js';
import type { ApiResponse } from './api.js';

type Operation = { responses: Record<string, { $ref?: string; content?: Record<string, { schema: { $ref?: string } }> }> };

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/** The contract path template matching a concrete path (the most literal one when several match). */
export function templateOf(path: string): string {
  const bare = path.split('?')[0]!;
  const candidates = Object.keys(contract.paths as object).filter((template) => {
    const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`);
    return pattern.test(bare);
  });
  assert.ok(candidates.length > 0, `no contract path for ${bare}`);
  return candidates.sort((a, b) => a.split('{').length - b.split('{').length)[0]!;
}

export function assertMatchesContract(method: string, path: string, res: ApiResponse): void {
  const template = templateOf(path);
  const operation = (contract.paths as Record<string, Record<string, Operation>>)[template]![method.toLowerCase()];
  assert.ok(operation, `${method} ${template} is not in the contract`);
  let response = operation.responses[String(res.status)];
  assert.ok(response, `${method} ${template}: status ${res.status} is not documented (body: ${res.text.slice(0, 300)})`);
  let pointer = `#/paths/${escape(template)}/${method.toLowerCase()}/responses/${res.status}`;
  if (response.$ref) {
    pointer = response.$ref;
    response = (contract.components as unknown as Record<string, Record<string, typeof response>>).responses![response.$ref.split('/').pop()!]!;
  }
  if (!response.content) {
    assert.equal(res.text, '', `${method} ${template} ${res.status}: the contract documents no body`);
    return;
  }
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const media = response.content[mediaType];
  assert.ok(media, `${method} ${template} ${res.status}: media type '${mediaType}' is not documented`);
  const schemaPointer = media.schema.$ref ?? `${pointer}/content/${escape(mediaType)}/schema`;
  const validate = validatorFor(schemaPointer);
  // A stream (NDJSON) documents the schema of each line.
  const values = mediaType === 'application/x-ndjson' ? (res.body as unknown[]) : [res.body];
  for (const value of values) {
    const ok = validate(value);
    assert.ok(ok, `${method} ${template} ${res.status} does not match the contract: ${JSON.stringify(describeAjvErrors(validate.errors))}\n${JSON.stringify(value).slice(0, 500)}`);
  }
}
