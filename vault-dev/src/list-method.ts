// Lets Node's HTTP server accept Vault's `LIST` method, and gives the connections it feeds by hand
// the timeouts Node's own would get.
//
// Node's parser (llhttp) knows a fixed set of methods and answers anything else, LIST included,
// with 400 before a request handler runs; there is no option to add methods. So each TCP
// connection is passed through this adapter, which frames the HTTP/1.1 requests on it (request
// line and headers, then a Content-Length or chunked body) and rewrites `LIST /path` into
// `GET /path` carrying a header with a per-server secret, so the handler knows it was a LIST
// whatever the query says (`LIST ...?list=false` is still a list in Vault).
// Anything it cannot frame (CONNECT, malformed heads) passes through untouched for llhttp to judge.
//
// Because the HTTP server is handed these connections instead of accepting them, Node's
// headersTimeout and requestTimeout never run for them; and the framer holds an unfinished head
// back from llhttp anyway. So the connection keeps Vault's listener deadlines itself: a request
// head must be complete within the read-header timeout (10 s), the whole request within the read
// timeout (30 s), counted from the request's first byte (or, for the first, from the accept);
// past either, the connection is closed, as Go's net/http closes it for Vault.

import type { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/** Marks a request that arrived as LIST; its value is the server's secret. */
const LIST_MARKER_HEADER = 'x-vault-dev-list';

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

/**
 * Where the framer is in the request stream: between requests, inside a head, inside a body, or
 * past what it can frame (`opaque`). `heads` counts the request heads framed so far.
 */
export interface FramerProgress {
  phase: 'between' | 'head' | 'body' | 'opaque';
  heads: number;
}

/** Whether `req` arrived as a LIST request on a connection framed with `marker`. */
export function arrivedAsList(req: IncomingMessage, marker: string): boolean {
  return req.headersDistinct[LIST_MARKER_HEADER]?.includes(marker) ?? false;
}

/** Splits a byte stream into HTTP/1.1 requests and rewrites LIST request lines. */
export class ListMethodFramer {
  private pending: Buffer = Buffer.alloc(0);
  private state: FramerState = { kind: 'head' };
  private heads = 0;
  /** Bytes of the next head (blank lines before it included) have arrived. */
  private headStarted = false;

  /** @param listMarker the secret value of the header that marks a rewritten LIST. */
  constructor(private readonly listMarker: string) {}

  progress(): FramerProgress {
    switch (this.state.kind) {
      case 'head':
        return { phase: this.headStarted || this.pending.length > 0 ? 'head' : 'between', heads: this.heads };
      case 'passthrough':
        return { phase: 'opaque', heads: this.heads };
      default:
        return { phase: 'body', heads: this.heads };
    }
  }

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
    this.headStarted = true;
    // Blank lines before a request line are allowed (RFC 9112 section 2.2).
    if (this.pending[0] === 0x0d || this.pending[0] === 0x0a) return this.take(1);
    const end = this.pending.indexOf(HEAD_END);
    if (end === -1) return this.overflowOrWait();
    const head = this.pending.subarray(0, end + HEAD_END.length).toString('latin1');
    this.take(end + HEAD_END.length);
    this.heads++;
    this.headStarted = false;

    const lines = head.split('\r\n');
    const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/.exec(lines[0] ?? '');
    if (!requestLine) {
      this.state = { kind: 'passthrough' };
      return Buffer.from(head, 'latin1');
    }
    let contentLength = 0;
    let chunked = false;
    // A head llhttp will refuse: whatever follows is not for us to frame.
    let unframable = false;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value)) unframable = true;
        else contentLength = Number(value);
      } else if (name === 'transfer-encoding') {
        chunked = value.toLowerCase().split(',').map((v) => v.trim()).includes('chunked');
      }
    }
    // An Upgrade header is framed like any request: the server has no upgrade handler, so Node
    // serves such a request as a plain one. CONNECT makes Node drop the connection.
    const [, method, target, version] = requestLine;
    let rewritten = head;
    if (method === 'LIST') {
      const marker = `\r\n${LIST_MARKER_HEADER}: ${this.listMarker}`;
      rewritten = `GET ${target} ${version}${marker}${head.slice(lines[0]!.length)}`;
    }
    if (unframable || method === 'CONNECT') this.state = { kind: 'passthrough' };
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

export interface ConnectionTimeouts {
  /** Milliseconds for a request head to arrive whole (Vault's http_read_header_timeout). */
  readHeaderMs: number;
  /** Milliseconds for a whole request, head and body (Vault's http_read_timeout). */
  readMs: number;
}

/** Vault's listener defaults. */
export const VAULT_CONNECTION_TIMEOUTS: ConnectionTimeouts = { readHeaderMs: 10_000, readMs: 30_000 };

/**
 * A socket whose incoming bytes go through ListMethodFramer, for `httpServer.emit('connection')`,
 * closed when a request does not arrive within its deadlines.
 */
export class ListMethodConnection extends Duplex {
  private readonly framer: ListMethodFramer;
  private timer: NodeJS.Timeout | undefined;
  /** The request the pending deadline is for (its head's ordinal), and which deadline it is. */
  private timing: { request: number; kind: 'head' | 'body' | 'opaque'; startedAt: number } | undefined;

  constructor(
    private readonly socket: Socket,
    listMarker: string,
    private readonly timeouts: ConnectionTimeouts,
  ) {
    super({ allowHalfOpen: true });
    this.framer = new ListMethodFramer(listMarker);
    // The first request's head is due from the accept, like Go's for a new connection.
    this.setDeadline({ request: 0, kind: 'head', startedAt: Date.now() });
    socket.on('data', (chunk: Buffer) => {
      const bytes = this.framer.push(chunk);
      this.followProgress();
      if (bytes.length > 0 && !this.push(bytes)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
    socket.on('timeout', () => this.emit('timeout'));
  }

  /** Moves the deadline along with the framer: a head, then its body, then nothing until the next head. */
  private followProgress(): void {
    const { phase, heads } = this.framer.progress();
    const now = Date.now();
    switch (phase) {
      case 'between':
        this.setDeadline(undefined);
        return;
      case 'head':
        // Request number `heads` has begun; keep its deadline if it already has one.
        if (this.timing?.request !== heads) this.setDeadline({ request: heads, kind: 'head', startedAt: now });
        return;
      case 'body': {
        const request = heads - 1;
        const startedAt = this.timing?.request === request ? this.timing.startedAt : now;
        if (this.timing?.request !== request || this.timing.kind !== 'body') {
          this.setDeadline({ request, kind: 'body', startedAt });
        }
        return;
      }
      case 'opaque':
        // llhttp judges the rest; the connection is bounded all the same, and for good.
        if (this.timing?.kind !== 'opaque') this.setDeadline({ request: heads, kind: 'opaque', startedAt: now });
        return;
    }
  }

  private setDeadline(timing: ListMethodConnection['timing']): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timing = timing;
    if (!timing) return;
    const limit = timing.kind === 'head' ? this.timeouts.readHeaderMs : this.timeouts.readMs;
    const delay = Math.max(0, timing.startedAt + limit - Date.now());
    this.timer = setTimeout(() => this.destroy(), delay);
    this.timer.unref();
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
    clearTimeout(this.timer);
    this.socket.destroy(error ?? undefined);
    callback(error);
  }
}
