// Lets Node's HTTP server accept Vault's `LIST` method.
//
// Node's parser (llhttp) knows a fixed set of methods and answers anything else, LIST included,
// with 400 before a request handler runs; there is no option to add methods. So each TCP
// connection is passed through this adapter, which frames the HTTP/1.1 requests on it (request
// line and headers, then a Content-Length or chunked body) and rewrites `LIST /path` into
// `GET /path?list=true` -- the request Vault itself treats as identical to LIST.
// Anything it cannot frame (upgrades, malformed heads) passes through untouched for llhttp to judge.

import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

type FramerState =
  | { kind: 'head' }
  | { kind: 'body'; remaining: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'trailers' }
  | { kind: 'passthrough' };

/** Splits a byte stream into HTTP/1.1 requests and rewrites LIST request lines. */
export class ListMethodFramer {
  private pending: Buffer = Buffer.alloc(0);
  private state: FramerState = { kind: 'head' };

  /** Feeds received bytes; returns the bytes to hand to the HTTP parser. */
  push(chunk: Buffer): Buffer {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      const produced = this.step();
      if (produced === undefined) break;
      out.push(produced);
    }
    return Buffer.concat(out);
  }

  /** Consumes what the current state can; undefined when more bytes are needed. */
  private step(): Buffer | undefined {
    const state = this.state;
    if (this.pending.length === 0) return undefined;
    switch (state.kind) {
      case 'passthrough':
        return this.take(this.pending.length);
      case 'body': {
        const piece = this.take(Math.min(state.remaining, this.pending.length));
        state.remaining -= piece.length;
        if (state.remaining === 0) this.state = { kind: 'head' };
        return piece;
      }
      case 'chunk-data': {
        const piece = this.take(Math.min(state.remaining, this.pending.length));
        state.remaining -= piece.length;
        if (state.remaining === 0) this.state = { kind: 'chunk-size' };
        return piece;
      }
      case 'chunk-size': {
        const end = this.pending.indexOf(CRLF);
        if (end === -1) return this.overflowOrWait();
        const line = this.pending.subarray(0, end).toString('latin1');
        const size = Number.parseInt(line.split(';')[0]!.trim(), 16);
        if (line.trim() === '') {
          // The CRLF closing the previous chunk's data.
          return this.take(end + 2);
        }
        if (!Number.isFinite(size) || size < 0) return this.passthrough();
        this.state = size === 0 ? { kind: 'trailers' } : { kind: 'chunk-data', remaining: size };
        return this.take(end + 2);
      }
      case 'trailers': {
        const end = this.pending.indexOf(CRLF);
        if (end === -1) return this.overflowOrWait();
        if (end === 0) this.state = { kind: 'head' };
        return this.take(end + 2);
      }
      case 'head':
        return this.head();
    }
  }

  private head(): Buffer | undefined {
    // Blank lines before a request line are allowed (RFC 9112 section 2.2).
    if (this.pending[0] === 0x0d || this.pending[0] === 0x0a) return this.take(1);
    const end = this.pending.indexOf(HEAD_END);
    if (end === -1) return this.overflowOrWait();
    const head = this.pending.subarray(0, end + HEAD_END.length).toString('latin1');
    this.take(end + HEAD_END.length);

    const lines = head.split('\r\n');
    const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/.exec(lines[0] ?? '');
    if (!requestLine) {
      this.state = { kind: 'passthrough' };
      return Buffer.from(head, 'latin1');
    }
    let contentLength = 0;
    let chunked = false;
    let upgrade = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value)) upgrade = true;
        else contentLength = Number(value);
      } else if (name === 'transfer-encoding') {
        chunked = value.toLowerCase().split(',').map((v) => v.trim()).includes('chunked');
      } else if (name === 'upgrade') {
        upgrade = true;
      }
    }
    const [, method, target, version] = requestLine;
    let rewritten = head;
    if (method === 'LIST') {
      const listTarget = `${target}${target!.includes('?') ? '&' : '?'}list=true`;
      rewritten = `GET ${listTarget} ${version}${head.slice(lines[0]!.length)}`;
    }
    if (upgrade || method === 'CONNECT') this.state = { kind: 'passthrough' };
    else if (chunked) this.state = { kind: 'chunk-size' };
    else if (contentLength > 0) this.state = { kind: 'body', remaining: contentLength };
    else this.state = { kind: 'head' };
    return Buffer.from(rewritten, 'latin1');
  }

  private overflowOrWait(): Buffer | undefined {
    return this.pending.length > MAX_HEAD_BYTES ? this.passthrough() : undefined;
  }

  private passthrough(): Buffer {
    this.state = { kind: 'passthrough' };
    return this.take(this.pending.length);
  }

  private take(n: number): Buffer {
    const piece = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return piece;
  }
}

/** A socket whose incoming bytes go through ListMethodFramer, for `httpServer.emit('connection')`. */
export class ListMethodConnection extends Duplex {
  private readonly framer = new ListMethodFramer();

  constructor(private readonly socket: Socket) {
    super({ allowHalfOpen: true });
    socket.on('data', (chunk: Buffer) => {
      const bytes = this.framer.push(chunk);
      if (bytes.length > 0 && !this.push(bytes)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
    socket.on('timeout', () => this.emit('timeout'));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.socket.setTimeout(ms, callback);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    this.socket.setKeepAlive(enable, delay);
    return this;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy(error ?? undefined);
    callback(error);
  }
}
