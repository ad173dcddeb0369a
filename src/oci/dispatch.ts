// The one request function the registry client is built on, and the layer shape around it (after undici's
// interceptors): retry, auth and redirect each wrap a `Send` and return a `Send`, so no call re-implements them.
import type { Dispatcher } from 'undici';

/** What a request needs access to, which decides the credential and the token scope. */
export type AuthScope =
  | { type: 'repository'; repository: string }
  | { type: 'catalog' }
  /** The registry as a whole (`GET /v2/` as a login check): the `'*'` credential, a token without scope. */
  | { type: 'registry' };

export interface RegistryRequest {
  method: 'GET' | 'HEAD';
  /** Path and query on the registry (`/v2/name/manifests/latest`). */
  path: string;
  /** Another `https://host:port` than the registry's; set when following a redirect or asking a token realm. */
  origin?: string;
  headers?: Record<string, string>;
  /** Absent: sent as is, anonymously, and a 401 is the caller's to interpret (ping). */
  scope?: AuthScope;
  signal?: AbortSignal;
}

export type ResponseBody = Dispatcher.ResponseData['body'];

export interface RegistryResponse {
  statusCode: number;
  /** Header names lowercased, as undici gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: ResponseBody;
  /** The URL that answered (after redirects). */
  url: URL;
}

export type Send = (request: RegistryRequest) => Promise<RegistryResponse>;
export type Layer = (next: Send) => Send;

/** `compose(base, a, b)` is `a(b(base))`: the first layer listed sees the request first. */
export const compose = (base: Send, ...layers: Layer[]): Send => layers.reduceRight<Send>((next, layer) => layer(next), base);

/** A single header value; registries send one of each we read, so a repeated header keeps its first value. */
export function headerValue(response: RegistryResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Throws away an unread body so the connection goes back to the pool; never throws. */
export async function discard(response: RegistryResponse): Promise<void> {
  try {
    await response.body.dump();
  } catch {
    // A body that fails while being discarded changes nothing for the caller.
  }
}
