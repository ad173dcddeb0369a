// The HTTP front of vault-dev: maps /v1/ requests to the sys endpoints or to logical operations,
// and logical results to Vault's response envelope and status codes. Plain node:http; every TCP
// connection goes through ListMethodConnection so the LIST method reaches the handler and every
// request is read within Vault's listener timeouts.

import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { LogicalResult, VaultCore } from './core.js';
import {
  clientToken,
  parseGoBool,
  parseJsonObject,
  queryData,
  readBody,
  sendError,
  sendJson,
  sendNoContent,
} from './http-io.js';
import { arrivedAsList, ListMethodConnection, VAULT_CONNECTION_TIMEOUTS, type ConnectionTimeouts } from './list-method.js';
import type { JsonObject, Operation } from './logical.js';
import { SYS_ENDPOINTS } from './sys-endpoints.js';
import { badRequest, methodNotAllowed, notFound, VaultError } from './vault-error.js';

const MERGE_PATCH = 'application/merge-patch+json';

/** sys paths whose response data Vault also copies to the top level of the body (old clients read it there). */
const INJECTED_DATA_PATHS = [/^sys\/mounts(\/|$)/, /^sys\/policy(\/|$)/];

export interface RunningServer {
  /** e.g. http://127.0.0.1:8200 or http://[::1]:8200 */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startVaultServer(
  core: VaultCore,
  host: string,
  port: number,
  timeouts: ConnectionTimeouts = VAULT_CONNECTION_TIMEOUTS,
): Promise<RunningServer> {
  // Marks requests the framer rewrote from LIST; secret, so no client can forge the mark.
  const listMarker = randomUUID();
  // Node emits pipelined requests without waiting for earlier ones to finish; like Go's net/http,
  // vault-dev handles the requests of one connection strictly in order.
  const connectionTails = new WeakMap<object, Promise<void>>();
  const httpServer = http.createServer({ keepAliveTimeout: 5000 }, (req, res) => {
    const previous = connectionTails.get(req.socket) ?? Promise.resolve();
    const current = previous.then(() =>
      handleRequest(core, req, res, listMarker).catch((err: unknown) => {
        // Never reached with a VaultError; anything here is a bug. The message carries no secrets.
        process.stderr.write(`vault-dev: internal error: ${(err as Error).message}\n`);
        if (!res.headersSent) sendJson(res, 500, { errors: ['internal error'] });
        else res.destroy();
      }),
    );
    connectionTails.set(req.socket, current);
  });
  // The HTTP server never listens itself, so it does not track these connections: we do.
  const sockets = new Set<net.Socket>();
  const tcpServer = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    httpServer.emit('connection', new ListMethodConnection(socket, listMarker, timeouts));
  });
  await new Promise<void>((resolve, reject) => {
    tcpServer.once('error', reject);
    tcpServer.listen(port, host, () => {
      tcpServer.off('error', reject);
      resolve();
    });
  });
  const address = tcpServer.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostPart}:${address.port}`,
    port: address.port,
    // Stop accepting, let writes already under way finish, then drop the connections.
    close: async () => {
      const closed = new Promise<void>((resolve) => tcpServer.close(() => resolve()));
      await core.drain();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

async function handleRequest(core: VaultCore, req: IncomingMessage, res: ServerResponse, listMarker: string): Promise<void> {
  try {
    refuseWrapping(req);
    const url = new URL(req.url ?? '/', 'http://vault-dev');
    if (!url.pathname.startsWith('/v1/')) throw notFound();
    const path = decodePath(url.pathname.slice('/v1/'.length));
    const list = arrivedAsList(req, listMarker);
    const sysEndpoint = SYS_ENDPOINTS.get(path);
    if (sysEndpoint) {
      // None of these answers LIST in Vault.
      if (list) throw methodNotAllowed();
      return await sysEndpoint(core, req, res, url);
    }
    await handleLogicalRequest(core, req, res, url, path, list);
  } catch (err) {
    if (err instanceof VaultError) return sendError(res, err);
    throw err;
  }
}

/**
 * vault-dev does not implement response wrapping. A client that asks for it (X-Vault-Wrap-TTL) relies
 * on the answer never travelling in clear, so the request is refused before anything is done, rather
 * than carried out with its answer unwrapped.
 */
function refuseWrapping(req: IncomingMessage): void {
  const wrapTtl = req.headers['x-vault-wrap-ttl'];
  if (wrapTtl !== undefined && wrapTtl !== '') {
    throw badRequest('vault-dev does not implement response wrapping (X-Vault-Wrap-TTL); the request was not processed');
  }
}

function decodePath(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new VaultError(400, ['invalid URL escape in the request path']);
  }
}

async function handleLogicalRequest(
  core: VaultCore,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  rawPath: string,
  arrivedAsListMethod: boolean,
): Promise<void> {
  let path = rawPath;
  let operation: Operation;
  let data: JsonObject;
  // LIST is always a list, whatever `?list=` says, as in Vault.
  const method = arrivedAsListMethod && req.method === 'GET' ? 'LIST' : req.method;
  switch (method) {
    case 'GET': {
      const listParam = url.searchParams.get('list') ?? '';
      const list = listParam === '' ? false : parseGoBool(listParam);
      if (list === undefined) throw new VaultError(400, []);
      operation = list ? 'list' : 'read';
      data = queryData(url.searchParams, list ? ['list'] : []);
      break;
    }
    case 'LIST':
      operation = 'list';
      data = queryData(url.searchParams);
      break;
    case 'DELETE':
      operation = 'delete';
      data = queryData(url.searchParams);
      break;
    case 'POST':
    case 'PUT':
      operation = 'update';
      data = parseJsonObject(await readBody(req));
      break;
    case 'PATCH': {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (contentType !== MERGE_PATCH) {
        throw new VaultError(415, [`PATCH requires Content-Type of ${MERGE_PATCH}, provided ${contentType}`]);
      }
      operation = 'patch';
      data = parseJsonObject(await readBody(req));
      break;
    }
    default:
      throw methodNotAllowed();
  }
  if (operation === 'list' && !path.endsWith('/')) path += '/';

  const result = await core.handleLogical({ operation, path, data, clientToken: clientToken(req) });
  respondLogical(res, path, result);
}

function respondLogical(res: ServerResponse, path: string, result: LogicalResult): void {
  const response = result.response;
  if (!response) {
    // No response: a read or list found nothing (404), a write succeeded without output (204).
    if (result.operation === 'read' || result.operation === 'list') return sendError(res, notFound());
    return sendNoContent(res);
  }
  const envelope = {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: response.data ?? null,
    wrap_info: null,
    warnings: response.warnings?.length ? response.warnings : null,
    auth: response.auth ?? null,
    mount_type: result.mountType,
  };
  const inject = response.data && INJECTED_DATA_PATHS.some((p) => p.test(path));
  sendJson(res, response.status ?? 200, inject ? { ...response.data, ...envelope } : envelope);
}
