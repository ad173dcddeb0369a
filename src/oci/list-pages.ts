// The list endpoints of a registry (`/v2/_catalog`, `/v2/<name>/tags/list`) page by page, following
// `Link: <...>; rel="next"` on the registry only, each page bounded in bytes and the pages in number.
import type { AuthScope, RegistryResponse } from './dispatch.js';
import { nextLink } from './link-header.js';
import { hostOf } from './registry-endpoint.js';
import { UpstreamError, type UpstreamErrorKind } from './upstream-error.js';

const MAX_LIST_PAGE_BYTES = 16 * 1024 * 1024;
/** Paging stops with an error past this many pages: a registry looping its Link header must not hang a call. */
const MAX_PAGES = 10_000;

/** What paging needs of the client: its authenticated request, bounded reads, and its words for a bad answer. */
export interface ListEndpoint {
  /** The registry's configured address, and how messages name it. */
  registry: string;
  label: string;
  /** Where the client connects (the override address, when there is one). */
  origin: string;
  request(call: { path: string; scope: AuthScope; subject: string; headers: Record<string, string>; notFoundKind: UpstreamErrorKind }): Promise<RegistryResponse>;
  readAll(response: RegistryResponse, limit: number, subject: string): Promise<Buffer>;
  badResponse(message: string, status?: number): UpstreamError;
}

/** Pages of a list endpoint (`repositories` or `tags`), following `Link: <...>; rel="next"` on the registry only. */
export async function* listPages(
  endpoint: ListEndpoint,
  firstPath: string,
  scope: AuthScope,
  subject: string,
  notFoundKind: UpstreamErrorKind,
  field: 'repositories' | 'tags',
): AsyncGenerator<string[]> {
  const seen = new Set<string>();
  for (let path: string | undefined = firstPath; path !== undefined; ) {
    if (seen.size >= MAX_PAGES || seen.has(path)) throw endpoint.badResponse(`${subject}: the Link header loops`);
    seen.add(path);
    let response: RegistryResponse;
    try {
      response = await endpoint.request({ path, scope, subject, headers: { accept: 'application/json' }, notFoundKind });
    } catch (error) {
      // distribution answers UNSUPPORTED when the catalog is switched off; that is no catalog, not a broken registry.
      if (field === 'repositories' && error instanceof UpstreamError && error.failure.registryErrorCodes?.includes('UNSUPPORTED')) {
        throw new UpstreamError(
          { ...error.failure, kind: 'no-catalog' },
          `registry ${endpoint.label}: this registry has no catalog (UNSUPPORTED)`,
        );
      }
      if (error instanceof UpstreamError && error.failure.kind === 'no-catalog') {
        throw new UpstreamError(error.failure, `registry ${endpoint.label}: this registry has no catalog (404 on /v2/_catalog)`);
      }
      throw error;
    }
    const bytes = await endpoint.readAll(response, MAX_LIST_PAGE_BYTES, subject);
    let list: unknown;
    try {
      list = (JSON.parse(bytes.toString('utf8')) as Record<string, unknown> | null)?.[field];
    } catch {
      throw endpoint.badResponse(`${subject}: the answer is not JSON`, response.statusCode);
    }
    // Some registries answer `"tags": null` for a repository without tags.
    if (list === null || list === undefined) list = [];
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
      throw endpoint.badResponse(`${subject}: '${field}' is not a list of strings`, response.statusCode);
    }
    yield list;
    path = nextPagePath(endpoint, nextLink(response.headers.link), response.url, subject);
  }
}

/** The path of the next page, only when it points back at the registry: a Link must not send our credentials away. */
function nextPagePath(endpoint: ListEndpoint, link: string | undefined, base: URL, subject: string): string | undefined {
  if (link === undefined) return undefined;
  let target: URL;
  try {
    target = new URL(link, base);
  } catch {
    throw endpoint.badResponse(`${subject}: invalid Link header`);
  }
  const registryHost = hostOf(new URL(`https://${endpoint.registry}`));
  const connectHost = hostOf(new URL(endpoint.origin));
  // A registry reached through an override address may still write its own name in absolute links.
  if (target.protocol !== 'https:' || (hostOf(target) !== connectHost && hostOf(target) !== registryHost)) {
    throw endpoint.badResponse(`${subject}: the next page is on another host (${target.host}); not followed`);
  }
  return `${target.pathname}${target.search}`;
}
