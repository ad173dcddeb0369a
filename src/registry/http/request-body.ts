// Reading request bodies: manifests whole but bounded (413 past the limit, before reading if Content-Length says
// so), blobs never -- those are streamed into the blob store by the handlers. Nothing here destroys a request:
// destroying it closes the connection, and the client would never see the answer that explains why.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../registry-error.js';

const tooLarge = (limit: number) => new RegistryError('MANIFEST_INVALID', `manifest larger than ${limit} bytes (BERTH_MAX_MANIFEST_BYTES)`, { limit }, 413);

export async function readBoundedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let total = 0;
  // Stopping early leaves the rest unread (the error answer drains it); it does not destroy the request.
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
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

/** How much of an unread body is still read and dropped after the answer, and for how long, before closing. */
const LINGER = { bytes: 16 * 1024 * 1024, ms: 5_000 };

/**
 * For a request answered before its body was read whole, called before the answer is sent: reads and drops the rest,
 * so a client still sending sees the answer rather than a reset, and the connection stays usable. A client that keeps
 * sending past LINGER's bytes or time has its connection closed: the deliberate end of a request that will never be
 * read.
 */
export function discardUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  if (req.complete || socket === null || socket.destroyed) return;
  // For a client that asked to close (`Connection: close`, as any client without keep-alive sends), Node would close
  // the socket as soon as the answer is out, with the unread body still in it: the kernel then sends a reset, which
  // can reach the client before it has read the answer, and the answer is lost. Kept open instead while the rest is
  // dropped; the client closes it once it has the answer.
  if (!res.headersSent) res.setHeader('Connection', 'keep-alive');
  let dropped = 0;
  const done = () => {
    clearTimeout(timer);
    req.off('data', count);
  };
  const close = () => {
    done();
    if (!req.complete) socket.destroy();
  };
  const count = (chunk: Buffer) => {
    dropped += chunk.byteLength;
    if (dropped > LINGER.bytes) close();
  };
  const timer = setTimeout(close, LINGER.ms);
  req.on('data', count);
  req.once('end', done);
  req.once('close', done);
  req.resume();
}
