// Reading a whole response body into memory with a ceiling, for manifests, tag lists and tokens: a registry
// (or something posing as one) must not make Berth buffer gigabytes.
import type { ResponseBody } from './dispatch.js';

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`response body larger than ${limit} bytes`);
  }
}

export async function readBody(body: ResponseBody, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    const bytes = chunk as Buffer;
    length += bytes.length;
    if (length > limit) {
      body.destroy();
      throw new BodyTooLargeError(limit);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, length);
}
