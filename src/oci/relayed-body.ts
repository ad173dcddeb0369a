// A response body as a stream of its chunks, as they came, whose errors are UpstreamErrors like any other failure of
// the client. Relayed by events rather than through an async generator and Readable.from(): a 1 GB blob is some
// 65,000 TLS records, and those two layers cost several promises and a copy per record.
import { Readable } from 'node:stream';
import type { RegistryResponse } from './dispatch.js';
import { transportFailure, type FailureContext } from './transport-failure.js';

export function relayedBody(response: RegistryResponse, context: FailureContext): Readable {
  const body = response.body;
  const relay = new Readable({
    // Object mode: each chunk stays the buffer it arrived in (byte mode would concatenate what is waiting).
    objectMode: true,
    highWaterMark: 4,
    read: () => body.resume(),
    destroy: (error, callback) => {
      body.destroy();
      callback(error);
    },
  });
  body.on('data', (chunk: Buffer) => {
    if (!relay.push(chunk)) body.pause();
  });
  body.once('end', () => relay.push(null));
  body.once('error', (error) => relay.destroy(transportFailure(error, context) as Error));
  return relay;
}
