// A client of one remote registry over the OCI distribution protocol: ping, catalog, tags, manifests (digests
// verified) and blobs (streamed, resumable). Auth, redirects and retries are layers around one transport.
import type { Readable } from 'node:stream';
import { invalidInput } from '../errors.js';
import {
  ACCEPTED_MANIFEST_TYPES,
  digestOf,
  ManifestFormatError,
  parseDigest,
  parseManifest,
  type ManifestDocument,
} from '../image-spec/index.js';
import { anonymousAccess, type CredentialResolver } from './credentials.js';
import { BearerTokenSource } from './bearer-token.js';
import { authLayer } from './auth-layer.js';
import { requireDigest } from './digest.js';
import { compose, discard, headerValue, type AuthScope, type RegistryResponse, type Send } from './dispatch.js';
import { requireManifestReference, requireRepositoryName } from './image-reference.js';
import { listPages, type ListEndpoint } from './list-pages.js';
import { BodyTooLargeError, readBody } from './read-body.js';
import { redirectLayer } from './redirect-layer.js';
import { endpointConnection, type RegistryEndpoint } from './registry-endpoint.js';
import { UpstreamError, type UpstreamErrorKind } from './upstream-error.js';
import { responseFailure } from './response-failure.js';
import { DEFAULT_RETRY, retryLayer, type RetryOptions } from './retry-layer.js';
import { DEFAULT_TIMEOUTS, RegistryTransport, type RegistryTimeouts } from './transport.js';
import { transportFailure } from './transport-failure.js';
import { relayedBody } from './relayed-body.js';
import { pingRegistry, type PingResult } from './ping.js';
import { ConcurrencyLimit } from '../transport/index.js';

export interface RegistryClientOptions {
  /** The credential for each repository (and `'*'` for the catalog); anonymous when absent. */
  credentialFor?: CredentialResolver;
  timeouts?: Partial<RegistryTimeouts>;
  retry?: Partial<RetryOptions>;
  /** Connections kept open to the registry: the most requests in flight to it at once. Default 6. */
  connections?: number;
  /** Largest manifest read (BERTH_MAX_MANIFEST_BYTES). Default 4 MiB. */
  maxManifestBytes?: number;
  /**
   * Whole-blob downloads in flight to the registry at once, across every operation: one limit per remote, shared by
   * the clients of its successive configurations (RegistryClients). Default: a limit of `connections` of its own.
   */
  downloads?: ConcurrencyLimit;
  userAgent?: string;
}

export interface FetchedManifest {
  /** The verified digest of `bytes`. */
  digest: string;
  /** Exactly the bytes the registry sent: what the digest covers, what a pull stores. */
  bytes: Buffer;
  /** `bytes` as the image spec reads them; `document.mediaType` is the manifest's own type when it declares one. */
  document: ManifestDocument;
}

export interface ManifestHead {
  mediaType?: string;
  /** From the reference when it is a digest, else from `Docker-Content-Digest` when the registry sent it. */
  digest?: string;
  size?: number;
}

export interface BlobDownload {
  /** The blob's bytes from `offset` on. Errors while reading are UpstreamErrors too. */
  body: Readable;
  /** Where `body` starts. Equal to the offset asked for, or 0 when the registry ignored the Range (start over). */
  offset: number;
  /** Bytes `body` will deliver, when the registry said. */
  length?: number;
  /** Size of the whole blob, when the registry said. */
  totalSize?: number;
}

/** A manifest larger than this is refused unless configured otherwise: registries themselves cap manifests at 4 MiB. */
const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** The most names one listing collects (the repositories of a catalog, the tags of a repository). */
export const MAX_LISTED_NAMES = 100_000;

export class RegistryClient {
  /** The registry's configured address, carried in every error. */
  readonly registry: string;
  /** How messages name the registry: the address, plus the override when one is used. */
  readonly label: string;
  /** Taken by whoever reads a blob whole (a pull's transfer) for as long as it reads. */
  readonly downloads: ConcurrencyLimit;
  private readonly origin: string;
  private readonly transport: RegistryTransport;
  private readonly maxManifestBytes: number;
  private readonly send: Send;
  /** Ping goes without auth and without redirects: it is about what answers at this address. */
  private readonly pingSend: Send;

  constructor(endpoint: RegistryEndpoint, options: RegistryClientOptions = {}) {
    const connection = endpointConnection(endpoint);
    this.registry = endpoint.address;
    this.label = endpoint.overrideAddress ? `${endpoint.address} (via ${endpoint.overrideAddress})` : endpoint.address;
    this.origin = connection.origin;
    this.maxManifestBytes = options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
    this.downloads = options.downloads ?? new ConcurrencyLimit(options.connections ?? 6);
    this.transport = new RegistryTransport({
      connection,
      registry: this.registry,
      label: this.label,
      timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
      connections: options.connections ?? 6,
      userAgent: options.userAgent ?? 'berth-registry-client/0.1',
    });
    const context = { registry: this.registry, label: this.label };
    const tokens = new BearerTokenSource(this.transport.send, context);
    this.send = compose(
      this.transport.send,
      retryLayer({ ...DEFAULT_RETRY, ...options.retry }),
      authLayer({ ...context, registryOrigin: this.origin, credentialFor: options.credentialFor ?? anonymousAccess, tokens }),
      redirectLayer({ ...context, registryOrigin: this.origin, maxRedirects: 5 }),
    );
    this.pingSend = compose(this.transport.send, retryLayer({ ...DEFAULT_RETRY, ...options.retry }));
  }

  /**
   * `GET /v2/` anonymously: the registry must answer 200 or 401 with `Docker-Distribution-API-Version:
   * registry/2.0`; anything else is `not-a-registry`.
   */
  ping(): Promise<PingResult> {
    return pingRegistry(this.pingSend, this.context);
  }

  /** `GET /v2/` with the `'*'` credential: whether the registry accepts it (throws unauthorized when not). */
  async authenticate(): Promise<void> {
    const response = await this.request({ path: '/v2/', scope: { type: 'registry' }, subject: 'the registry API' });
    await discard(response);
  }

  /** Every repository in `/v2/_catalog`, following `Link` pages. A registry without a catalog gives `no-catalog`. */
  async listRepositories(options: { pageSize?: number } = {}): Promise<string[]> {
    const first = `/v2/_catalog${options.pageSize ? `?n=${options.pageSize}` : ''}`;
    const pages = listPages(this.listEndpoint, first, { type: 'catalog' }, 'the catalog', 'no-catalog', 'repositories');
    return this.collectNames(pages, `the catalog: more than the ${MAX_LISTED_NAMES} repositories Berth lists of a registry`);
  }

  /** Every tag of `repository`, following `Link` pages when the registry pages them. */
  async listTags(repository: string, options: { pageSize?: number } = {}): Promise<string[]> {
    requireRepositoryName(repository);
    const first = `/v2/${repository}/tags/list${options.pageSize ? `?n=${options.pageSize}` : ''}`;
    const pages = listPages(this.listEndpoint, first, { type: 'repository', repository }, `tags of ${repository}`, 'not-found', 'tags');
    return this.collectNames(pages, `tags of ${repository}: more than the ${MAX_LISTED_NAMES} tags Berth lists of a repository`);
  }

  /**
   * The names of a listing's pages, at most MAX_LISTED_NAMES of them: more is a bad response (`tooMany`), so what Berth
   * holds in memory for a registry it does not control stays bounded. Added one by one: a page of a million names
   * spread into push() would overflow the call stack.
   */
  private async collectNames(pages: AsyncIterable<string[]>, tooMany: string): Promise<string[]> {
    const names: string[] = [];
    for await (const page of pages) {
      if (names.length + page.length > MAX_LISTED_NAMES) throw this.badResponse(tooMany);
      for (const name of page) names.push(name);
    }
    return names;
  }

  /**
   * The manifest or index `repository:reference`, asking for all four OCI/Docker types. The digest of the bytes is
   * checked against a digest reference and against `Docker-Content-Digest` (sha256 or sha512, as they name it).
   * Reading stops past the manifest limit, or past `expectedSize` (the size an index's descriptor gives) when smaller;
   * an index or image listing more than `maxEntries` is the registry's bad response, refused before anything it lists
   * is fetched.
   */
  async getManifest(repository: string, reference: string, options: { expectedSize?: number; maxEntries?: number } = {}): Promise<FetchedManifest> {
    requireRepositoryName(repository);
    requireManifestReference(reference);
    const subject = manifestSubject(repository, reference);
    const declared = options.expectedSize;
    if (declared !== undefined && declared > this.maxManifestBytes) {
      throw this.badResponse(`${subject}: its descriptor gives ${declared} bytes, more than the ${this.maxManifestBytes} Berth reads (BERTH_MAX_MANIFEST_BYTES)`);
    }
    const response = await this.request({
      path: `/v2/${repository}/manifests/${reference}`,
      scope: { type: 'repository', repository },
      subject,
      headers: { accept: ACCEPTED_MANIFEST_TYPES.join(', ') },
    });
    const bytes = await this.readAll(
      response,
      declared ?? this.maxManifestBytes,
      subject,
      declared !== undefined ? 'the size its descriptor gives' : 'BERTH_MAX_MANIFEST_BYTES',
    );

    const byReference = parseDigest(reference);
    if (byReference && digestOf(bytes, byReference.algorithm) !== reference) {
      throw this.badResponse(`${subject}: the bytes received do not match the digest asked for`, response.statusCode);
    }
    const announced = headerValue(response, 'docker-content-digest');
    const byHeader = announced !== undefined ? parseDigest(announced) : undefined;
    if (announced !== undefined && byHeader === undefined) {
      throw this.badResponse(`${subject}: Docker-Content-Digest '${announced}' is not a sha256/sha512 digest`, response.statusCode);
    }
    if (byHeader && digestOf(bytes, byHeader.algorithm) !== announced) {
      throw this.badResponse(`${subject}: the bytes received do not match Docker-Content-Digest ${announced}`, response.statusCode);
    }
    const digest = byReference ? reference : announced ?? digestOf(bytes, 'sha256');

    try {
      const document = parseManifest(bytes, contentType(response), { served: 'fetched', maxEntries: options.maxEntries ?? Number.POSITIVE_INFINITY });
      return { digest, bytes, document };
    } catch (error) {
      if (error instanceof ManifestFormatError) throw this.badResponse(`${subject}: ${error.message}`, response.statusCode);
      throw error;
    }
  }

  /** `HEAD` of a manifest: whether it exists (not-found otherwise) and its type, digest and size when sent. */
  async headManifest(repository: string, reference: string): Promise<ManifestHead> {
    requireRepositoryName(repository);
    requireManifestReference(reference);
    const subject = manifestSubject(repository, reference);
    const response = await this.request({
      method: 'HEAD',
      path: `/v2/${repository}/manifests/${reference}`,
      scope: { type: 'repository', repository },
      subject,
      headers: { accept: ACCEPTED_MANIFEST_TYPES.join(', ') },
    });
    await discard(response);
    const announced = headerValue(response, 'docker-content-digest');
    const digest = parseDigest(reference) ? reference : announced !== undefined && parseDigest(announced) ? announced : undefined;
    const mediaType = contentType(response);
    const size = optionalSize(headerValue(response, 'content-length'));
    return {
      ...(mediaType !== undefined ? { mediaType } : {}),
      ...(digest !== undefined ? { digest } : {}),
      ...(size !== undefined ? { size } : {}),
    };
  }

  /**
   * Streams the blob `digest` of `repository`, from `offset` when given (a `Range` request, to resume a download).
   * The caller verifies the digest of what it stores. Redirects to storage backends are followed without credentials.
   */
  async getBlob(repository: string, digest: string, options: { offset?: number; signal?: AbortSignal } = {}): Promise<BlobDownload> {
    requireRepositoryName(repository);
    requireDigest(digest, 'blob digest');
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalidInput(`blob offset ${offset} is not a non-negative integer`);
    const subject = `blob ${repository}@${digest}`;
    const response = await this.request({
      path: `/v2/${repository}/blobs/${digest}`,
      scope: { type: 'repository', repository },
      subject,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const length = optionalSize(headerValue(response, 'content-length'));
    if (response.statusCode === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headerValue(response, 'content-range') ?? '');
      if (!range || Number(range[1]) !== offset) {
        await discard(response);
        throw this.badResponse(`${subject}: answered a range other than the one asked for`, 206);
      }
      const total = range[3] === '*' ? undefined : Number(range[3]);
      return {
        body: relayedBody(response, { ...this.context, host: response.url.host }),
        offset,
        ...(length !== undefined ? { length } : {}),
        ...(total !== undefined ? { totalSize: total } : {}),
      };
    }
    return {
      body: relayedBody(response, { ...this.context, host: response.url.host }),
      offset: 0,
      ...(length !== undefined ? { length, totalSize: length } : {}),
    };
  }

  /** `HEAD` of a blob: true when the registry has it, false on 404. */
  async blobExists(repository: string, digest: string): Promise<boolean> {
    return (await this.headBlob(repository, digest)) !== undefined;
  }

  /** `HEAD` of a blob: its size (Content-Length) when the registry has it, undefined on 404. */
  async blobSize(repository: string, digest: string): Promise<number | undefined> {
    const response = await this.headBlob(repository, digest);
    if (response === undefined) return undefined;
    const size = optionalSize(headerValue(response, 'content-length'));
    if (size === undefined) throw this.badResponse(`blob ${repository}@${digest}: HEAD answered without a Content-Length`, 200);
    return size;
  }

  /** The answer to `HEAD` of a blob when it is 200, undefined on 404, the failure otherwise. */
  private async headBlob(repository: string, digest: string): Promise<RegistryResponse | undefined> {
    requireRepositoryName(repository);
    requireDigest(digest, 'blob digest');
    const response = await this.send({ method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, scope: { type: 'repository', repository } });
    await discard(response);
    if (response.statusCode === 200) return response;
    if (response.statusCode === 404) return undefined;
    throw await responseFailure(response, { ...this.context, subject: `blob ${repository}@${digest}` });
  }

  /** Closes the connections once running requests are done. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  /** Closes the connections now, failing running requests and streams. */
  async destroy(): Promise<void> {
    await this.transport.destroy();
  }

  private get context() {
    return { registry: this.registry, label: this.label };
  }

  /** This client as the list pages see it (list-pages.ts). */
  private get listEndpoint(): ListEndpoint {
    return {
      registry: this.registry,
      label: this.label,
      origin: this.origin,
      request: (call) => this.request(call),
      readAll: (response, limit, subject) => this.readAll(response, limit, subject),
      badResponse: (message, status) => this.badResponse(message, status),
    };
  }

  private badResponse(message: string, status?: number): UpstreamError {
    return new UpstreamError(
      { kind: 'bad-response', registry: this.registry, ...(status !== undefined ? { status } : {}) },
      `registry ${this.label}: ${message}`,
    );
  }

  /** One authenticated request that must succeed (2xx); any other answer becomes the matching UpstreamError. */
  private async request(call: {
    path: string;
    scope: AuthScope;
    /** What the request is about, for messages: `manifest a/b:v1`. */
    subject: string;
    method?: 'GET' | 'HEAD';
    headers?: Record<string, string>;
    signal?: AbortSignal;
    notFoundKind?: UpstreamErrorKind;
  }): Promise<RegistryResponse> {
    const response = await this.send({
      method: call.method ?? 'GET',
      path: call.path,
      scope: call.scope,
      headers: call.headers ?? {},
      ...(call.signal ? { signal: call.signal } : {}),
    });
    if (response.statusCode >= 200 && response.statusCode < 300) return response;
    throw await responseFailure(response, {
      ...this.context,
      subject: call.subject,
      ...(call.notFoundKind ? { notFoundKind: call.notFoundKind } : {}),
    });
  }

  private async readAll(response: RegistryResponse, limit: number, subject: string, bound?: string): Promise<Buffer> {
    try {
      return await readBody(response.body, limit);
    } catch (error) {
      if (error instanceof BodyTooLargeError) throw this.badResponse(`${subject}: larger than ${limit} bytes${bound ? ` (${bound})` : ''}`, response.statusCode);
      throw transportFailure(error, { ...this.context, host: response.url.host });
    }
  }

}

const manifestSubject = (repository: string, reference: string) =>
  `manifest ${repository}${reference.includes(':') ? '@' : ':'}${reference}`;

/** The Content-Type without parameters. */
function contentType(response: RegistryResponse): string | undefined {
  const value = headerValue(response, 'content-type')?.split(';')[0]?.trim();
  return value ? value : undefined;
}

function optionalSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const size = Number(value);
  return Number.isSafeInteger(size) && size >= 0 ? size : undefined;
}
