// The bottom of the stack: one keep-alive undici Pool for the registry endpoint and one Agent for other hosts
// (token realms, blob redirects), both trusting the endpoint's CAs, with connect/headers/body timeouts.
import { createRequire } from 'node:module';
import type { Agent, Dispatcher, Pool } from 'undici';
import { loadUndici } from '../http/undici.js';
import { Lazy } from '../lazy.js';
import type { RegistryRequest, RegistryResponse } from './dispatch.js';
import type { EndpointConnection } from './registry-endpoint.js';
import { transportFailure } from './transport-failure.js';

/** node:tls, required when the first connection is made (as undici requires it), not at start. */
const createSecureContext: typeof import('node:tls').createSecureContext = (options) =>
  (createRequire(import.meta.url)('node:tls') as typeof import('node:tls')).createSecureContext(options);

export interface RegistryTimeouts {
  /** TCP + TLS handshake. */
  connectMs: number;
  /** From sending a request to the end of the response headers. */
  headersMs: number;
  /** Longest pause between two chunks of a body (not the whole download: a 1 GB blob takes long). */
  bodyMs: number;
}

export const DEFAULT_TIMEOUTS: RegistryTimeouts = { connectMs: 10_000, headersMs: 30_000, bodyMs: 60_000 };

export interface TransportOptions {
  connection: EndpointConnection;
  registry: string;
  label: string;
  timeouts: RegistryTimeouts;
  /** Connections kept to the registry; pulls fetch several blobs at once. */
  connections: number;
  userAgent: string;
}

export class RegistryTransport {
  /** Made at the first request (undici loads then). */
  private readonly dispatchers = new Lazy(() =>
    loadUndici().then(({ Agent, Pool }) => {
      const { connection, timeouts } = this.options;
      // `ca` replaces Node's default roots, so endpointConnection() already prepended them; undefined keeps the defaults.
      // One TLS context for every connection: given `ca`, tls.connect() would parse all ~120 roots again for each
      // connection (~35 ms of CPU and ~1.6 MiB each, and a pull opens several at once).
      const connect = { timeout: timeouts.connectMs, ...(connection.ca ? { secureContext: createSecureContext({ ca: connection.ca }) } : {}) };
      const common = { connect, headersTimeout: timeouts.headersMs, bodyTimeout: timeouts.bodyMs, keepAliveTimeout: 30_000 };
      return { pool: new Pool(connection.origin, { ...common, connections: this.options.connections }), agent: new Agent({ ...common, connections: this.options.connections }) };
    }),
  );

  constructor(private readonly options: TransportOptions) {}

  /** Sends one request, as is: no auth, no redirects, no retries. Network/TLS failures become UpstreamErrors. */
  readonly send = async (request: RegistryRequest): Promise<RegistryResponse> => {
    const url = new URL(request.path, request.origin ?? this.options.connection.origin);
    try {
      // Inside the try: undici loads at the first request, and a failure to load it (EMFILE) is answered as one.
      const { pool, agent } = await this.dispatchers.get();
      const dispatcher: Dispatcher = url.origin === this.options.connection.origin ? pool : agent;
      const response = await dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers: { 'user-agent': this.options.userAgent, ...request.headers },
        ...(request.signal ? { signal: request.signal } : {}),
      });
      return { statusCode: response.statusCode, headers: response.headers, body: response.body, url };
    } catch (error) {
      throw transportFailure(error, { registry: this.options.registry, label: this.options.label, host: url.host });
    }
  };

  async close(): Promise<void> {
    const opened = await this.dispatchers.made();
    if (opened) await Promise.all([opened.pool.close(), opened.agent.close()]);
  }

  /** Closes at once, aborting requests still running (streams being read fail). */
  async destroy(): Promise<void> {
    const opened = await this.dispatchers.made();
    if (opened) await Promise.all([opened.pool.destroy(), opened.agent.destroy()]);
  }
}
