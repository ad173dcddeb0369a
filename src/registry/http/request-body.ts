// Reading request bodies: manifests whole but bounded (413 past the limit, before reading if Content-Length says
// so), blobs never — those are streamed into the blob store by the handlers.
import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../registry-error.js';

const tooLarge = (limit: number) => new RegistryError('MANIFEST_INVALID', `manifest larger than ${limit} bytes`, { limit }, 413);

export async function readBoundedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    total += buffer.byteLength;
    if (total > limit) throw tooLarge(limit);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}

/** The request's Content-Length, when it has a valid one. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}
