// One keep-alive connection to one remote Berth server (a site, the control tower), built the same way for every
// caller: an undici Agent whose TLS trusts only the remote's CA when one is configured (`ca` replaces the system
// roots), the caller's timeouts, and one retry of a bodiless request whose connection was dropped under it (a stale
// keep-alive socket, a restarting server; isDropped in connection-failure.ts). The caller words its own failures.
import type { Agent, Dispatcher } from 'undici';
import { isDropped } from './connection-failure.js';

export interface KeepAliveOptions {
  /** The remote's base URL; its path is put before every request path. */
  url: string;
  /** PEM of the CA the remote's certificate must chain to. */
  caCertPem?: string;
  connectTimeoutMs: number;
  keepAliveTimeoutMs: number;
  connections: number;
  /** Defaults for every request (a request may set its own). */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

export type ConnectionRequest = Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & {
  /** Path and query below the remote's base URL. */
  path: string;
};

export class KeepAliveConnection {
  readonly origin: string;
  /** The URL's path without a trailing `/`. */
  readonly basePath: string;
  private readonly agent: Agent;

  constructor(AgentClass: typeof Agent, options: KeepAliveOptions) {
    const url = new URL(options.url);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.agent = new AgentClass({
      connect: { timeout: options.connectTimeoutMs, ...(options.caCertPem ? { ca: options.caCertPem } : {}) },
      keepAliveTimeout: options.keepAliveTimeoutMs,
      connections: options.connections,
      ...(options.headersTimeoutMs !== undefined ? { headersTimeout: options.headersTimeoutMs } : {}),
      ...(options.bodyTimeoutMs !== undefined ? { bodyTimeout: options.bodyTimeoutMs } : {}),
    });
  }

  /** Sends `request`; a request without a body is sent once more if its connection was dropped before an answer. */
  async request(request: ConnectionRequest): Promise<Dispatcher.ResponseData> {
    const attempt = () => this.agent.request({ ...request, origin: this.origin, path: `${this.basePath}${request.path}` });
    try {
      return await attempt();
    } catch (e) {
      if (request.body !== undefined || !isDropped(e) || (request.signal as AbortSignal | null | undefined)?.aborted) throw e;
      return attempt();
    }
  }

  /** Closes once the requests under way are answered. */
  close(): Promise<void> {
    return this.agent.close();
  }

  /** Closes now, failing the requests under way (a long-poll or stream that would otherwise hold the close). */
  destroy(): Promise<void> {
    return this.agent.destroy();
  }
}
