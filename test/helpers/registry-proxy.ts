// An HTTPS reverse proxy in front of a real docker-registry, for pull tests: it counts the blob requests it forwards
// and can misbehave on blob bodies the way networks and registries do -- flip a byte, cut the connection, stall.
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { issueServerCertificate, type CertificateAuthority } from './tls.js';

export type BlobBehaviour =
  | { kind: 'pass' }
  /** Flip one byte in the middle of each blob body (its length unchanged). */
  | { kind: 'tamper' }
  /** Forward `afterBytes` of a body, then drop the connection; `times` responses get this, later ones pass. */
  | { kind: 'cut'; afterBytes: number; times: number }
  /** Forward `afterBytes` of a body, then send nothing more until the proxy stops. */
  | { kind: 'stall'; afterBytes: number }
  /** Hold each blob response (headers included) until `release()`. */
  | { kind: 'gate' }
  /** Forward each blob body at no more than `bytesPerSecond` (a slow link, so a person can watch a pull). */
  | { kind: 'throttle'; bytesPerSecond: number }
  /** Forward each blob body but its last `bytes`, which wait for `release()` (a transfer caught mid-way). */
  | { kind: 'hold-tail'; bytes: number };

export interface BlobRequest {
  digest: string;
  range?: string;
}

export interface RegistryProxy {
  /** `127.0.0.1:PORT`: what a remote registry's `override-address` points at. */
  address: string;
  /** Every blob GET forwarded, in order. */
  readonly blobRequests: BlobRequest[];
  /** GETs of manifests forwarded, by path. */
  readonly manifestRequests: string[];
  /** HEADs of manifests forwarded, by path. */
  readonly manifestHeads: string[];
  /** Requests of any kind forwarded, by method and path. */
  readonly requests: string[];
  behaviour: BlobBehaviour;
  /** How many blob GETs asked for `digest`. */
  blobGets(digest: string): number;
  /** Resolves once `count` blob GETs have been seen. */
  waitForBlobRequests(count: number): Promise<void>;
  /**
   * The most blob GETs that were open at once: from the request to the response's end, which for a body passed on as
   * it comes (`pass`, `gate`) is when its last byte has been handed on, since the client cannot have it sooner.
   */
  maxBlobsInFlight: number;
  /** Resolves once a stalled body has forwarded its bytes. */
  waitForStall(): Promise<void>;
  /** Lets the responses the current `gate` behaviour holds through, and every later one. */
  release(): void;
  /** Stops listening (connections are refused, as when the registry is down); open connections are cut. */
  stopListening(): Promise<void>;
  /** Listens again on the same address. */
  listenAgain(): Promise<void>;
  stop(): Promise<void>;
}

const BLOB_PATH = /^\/v2\/.+\/blobs\/(sha256:[a-f0-9]{64})$/;
const MANIFEST_PATH = /^\/v2\/.+\/manifests\/[^/]+$/;

/** Pipes `from` into `to`, pausing whenever more has gone through than `bytesPerSecond` allows so far. */
function throttle(from: IncomingMessage, to: ServerResponse, bytesPerSecond: number): void {
  const started = Date.now();
  let forwarded = 0;
  from.on('data', (chunk: Buffer) => {
    to.write(chunk);
    forwarded += chunk.length;
    const ahead = (forwarded / bytesPerSecond) * 1000 - (Date.now() - started);
    if (ahead > 0) {
      from.pause();
      setTimeout(() => from.resume(), ahead);
    }
  });
  from.on('end', () => to.end());
  to.once('close', () => from.destroy());
}

/** Pipes the first `head` bytes of `from` into `to`, the rest once `released` settles. */
function holdTail(from: IncomingMessage, to: ServerResponse, head: number, released: Promise<void>): void {
  let forwarded = 0;
  const held: Buffer[] = [];
  from.on('data', (chunk: Buffer) => {
    const room = Math.max(head - forwarded, 0);
    if (room > 0) to.write(chunk.subarray(0, room));
    if (chunk.length > room) held.push(chunk.subarray(room));
    forwarded += chunk.length;
  });
  from.on('end', () => {
    void released.then(() => {
      for (const chunk of held) to.write(chunk);
      to.end();
    });
  });
  to.once('close', () => from.destroy());
}

export async function startRegistryProxy(upstream: { port: number; caCertPem: string }, ca: CertificateAuthority): Promise<RegistryProxy> {
  const certificate = issueServerCertificate(ca, `proxy-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const blobRequests: BlobRequest[] = [];
  const manifestRequests: string[] = [];
  const manifestHeads: string[] = [];
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const waiters: Array<() => void> = [];
  // One gate per `gate` behaviour object: release() opens it for good; assigning a new one closes it again.
  const gates = new WeakMap<BlobBehaviour, { opened: Promise<void>; open(): void }>();
  const gateOf = (behaviour: BlobBehaviour) => {
    let gate = gates.get(behaviour);
    if (!gate) {
      let open = () => {};
      const opened = new Promise<void>((resolve) => (open = resolve));
      gate = { opened, open };
      gates.set(behaviour, gate);
    }
    return gate;
  };
  let blobsInFlight = 0;
  let stalled: () => void = () => {};
  const stall = new Promise<void>((resolve) => (stalled = resolve));
  // Cuts are counted per behaviour object: assigning a new `cut` behaviour starts the count again.
  let cutBehaviour: BlobBehaviour | undefined;
  let cutsDone = 0;

  const proxy: RegistryProxy = {
    address: '',
    blobRequests,
    manifestRequests,
    manifestHeads,
    requests,
    behaviour: { kind: 'pass' },
    blobGets: (digest) => blobRequests.filter((r) => r.digest === digest).length,
    waitForBlobRequests: (count) =>
      new Promise((resolve) => {
        // Checked again at every blob request until the count is reached.
        const check = () => {
          if (blobRequests.length >= count) resolve();
          else waiters.push(check);
        };
        check();
      }),
    waitForStall: () => stall,
    maxBlobsInFlight: 0,
    release: () => gateOf(proxy.behaviour).open(),
    stopListening: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    listenAgain: async () => {
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    stop: async () => {
      gateOf(proxy.behaviour).open();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    // Told apart by the path alone: containerd adds `?ns=<registry>` when it asks a host other than the registry's own.
    const pathOnly = path.split('?')[0]!;
    const blob = req.method === 'GET' ? BLOB_PATH.exec(pathOnly) : null;
    let blobOpen = blob !== null;
    const endOfBlob = () => {
      if (!blobOpen) return;
      blobOpen = false;
      blobsInFlight--;
    };
    if (blob) {
      blobRequests.push({ digest: blob[1]!, ...(req.headers.range ? { range: String(req.headers.range) } : {}) });
      proxy.maxBlobsInFlight = Math.max(proxy.maxBlobsInFlight, ++blobsInFlight);
      res.once('close', endOfBlob);
      for (const waiter of waiters.splice(0)) waiter();
    }
    if (req.method === 'GET' && MANIFEST_PATH.test(pathOnly)) manifestRequests.push(path);
    if (req.method === 'HEAD' && MANIFEST_PATH.test(pathOnly)) manifestHeads.push(path);
    requests.push(`${req.method} ${path}`);
    const headers = { ...req.headers, host: `127.0.0.1:${upstream.port}` };
    const outgoing = request({ host: '127.0.0.1', port: upstream.port, method: req.method, path, headers, ca: upstream.caCertPem }, async (answer) => {
      const behaviour = proxy.behaviour;
      const misbehave = blob !== null && (answer.statusCode === 200 || answer.statusCode === 206);
      if (misbehave && behaviour.kind === 'gate') await gateOf(behaviour).opened;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (!misbehave || behaviour.kind === 'pass' || behaviour.kind === 'gate') {
        // Passed on as it comes: once the last byte is handed on, the client may have it all and ask for the next
        // blob, possibly before this response's own 'close' is processed here.
        if (blob) answer.once('end', endOfBlob);
        return void answer.pipe(res);
      }
      if (behaviour.kind === 'throttle') return throttle(answer, res, behaviour.bytesPerSecond);
      if (behaviour.kind === 'hold-tail') return holdTail(answer, res, Number(answer.headers['content-length'] ?? 0) - behaviour.bytes, gateOf(behaviour).opened);
      if (behaviour !== cutBehaviour) {
        cutBehaviour = behaviour;
        cutsDone = 0;
      }
      const cutting = behaviour.kind === 'stall' || (behaviour.kind === 'cut' && cutsDone < behaviour.times);
      let forwarded = 0;
      let done = false;
      const total = Number(answer.headers['content-length'] ?? 0);
      answer.on('data', (chunk: Buffer) => {
        if (done) return;
        if (behaviour.kind === 'tamper') {
          const at = Math.floor(total / 2) - forwarded;
          if (at >= 0 && at < chunk.length) {
            chunk = Buffer.from(chunk);
            chunk[at] = chunk[at]! ^ 0xff;
          }
          forwarded += chunk.length;
          res.write(chunk);
          return;
        }
        const room = behaviour.afterBytes - forwarded;
        if (!cutting || room >= chunk.length) {
          forwarded += chunk.length;
          res.write(chunk);
          return;
        }
        done = true;
        res.write(chunk.subarray(0, Math.max(room, 0)), () => {
          if (behaviour.kind === 'stall') {
            answer.destroy();
            stalled();
          } else {
            cutsDone++;
            answer.destroy();
            res.socket?.destroy();
          }
        });
      });
      answer.on('end', () => {
        if (!done) res.end();
      });
    });
    outgoing.on('error', () => res.destroy());
    req.pipe(outgoing);
  };

  const server: Server = createServer({ key: certificate.keyPem, cert: certificate.certPem }, forward);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  proxy.address = `127.0.0.1:${port}`;
  return proxy;
}
