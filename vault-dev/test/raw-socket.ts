// Bytes on a bare TCP connection, for what no HTTP client will send (unfinished heads, lying
// Content-Lengths, broken chunking, LIST): sends them, then waits until the server has answered one
// request whole or closed the connection, and says which, with the time it took. A connection the
// server keeps open past `limitMs` without an answer is reported as hung, never waited on forever.

import net from 'node:net';

export interface Exchange {
  /** The status of the first response, or undefined when the connection ended without one. */
  status: number | undefined;
  /** Everything received, as latin1 text. */
  received: string;
  /** The server closed the connection (before or after answering). */
  closed: boolean;
  /** Neither answered whole nor closed within the limit. */
  hung: boolean;
  /** Milliseconds from sending the first byte to the answer or the close. */
  elapsedMs: number;
}

export interface ExchangeOptions {
  /** Pieces sent in order, each after `pauseMs` (for heads that arrive slowly). */
  pieces: Array<string | Buffer>;
  pauseMs?: number;
  /** A HEAD request's answer has no body whatever its headers say. */
  head?: boolean;
  /** Keep waiting after the first answer, until the server closes the connection. */
  untilClosed?: boolean;
  limitMs: number;
}

export function exchange(addr: string, options: ExchangeOptions): Promise<Exchange> {
  const { hostname, port } = new URL(addr);
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), host);
    const chunks: Buffer[] = [];
    let started = 0;
    let done = false;
    const finish = (outcome: { closed: boolean; hung: boolean }) => {
      if (done) return;
      done = true;
      clearTimeout(limit);
      socket.destroy();
      const received = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(received)?.[1];
      resolve({
        status: status === undefined ? undefined : Number(status),
        received,
        ...outcome,
        elapsedMs: Date.now() - started,
      });
    };
    const limit = setTimeout(() => finish({ closed: false, hung: true }), options.limitMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!options.untilClosed && responseComplete(Buffer.concat(chunks), options.head ?? false)) {
        finish({ closed: false, hung: false });
      }
    });
    socket.on('close', () => finish({ closed: true, hung: false }));
    // A reset after the server gave up on us is a close like any other.
    socket.on('error', () => finish({ closed: true, hung: false }));
    socket.once('connect', async () => {
      started = Date.now();
      for (const [i, piece] of options.pieces.entries()) {
        if (i > 0 && options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
        if (done || socket.destroyed) return;
        socket.write(piece);
      }
    });
  });
}

/** Whether `bytes` hold one whole response: its head and, by its Content-Length, its body. */
function responseComplete(bytes: Buffer, head: boolean): boolean {
  const end = bytes.indexOf('\r\n\r\n');
  if (end === -1) return false;
  const headText = bytes.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1]);
  if (head || status === 204 || status === 304) return true;
  const length = /\r\ncontent-length: *(\d+)/i.exec(headText)?.[1];
  // Without a length the body runs to the close, which the close handler sees.
  return length !== undefined && bytes.length >= end + 4 + Number(length);
}

/** One HTTP/1.1 request as bytes, with Host and Connection: close unless `headers` say otherwise. */
export function httpRequest(
  method: string,
  target: string,
  options: { headers?: Array<[string, string]>; body?: string | Buffer; keepAlive?: boolean } = {},
): Buffer {
  const headers: Array<[string, string]> = [['Host', 'vault-dev'], ...(options.headers ?? [])];
  if (!options.keepAlive) headers.push(['Connection', 'close']);
  const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
  if (body && !headers.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name))) {
    headers.push(['Content-Length', String(body.length)]);
  }
  const head = `${method} ${target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body ?? Buffer.alloc(0)]);
}
