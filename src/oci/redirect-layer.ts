// Redirects, followed for GET/HEAD (docker-registry may send blob GETs to a storage backend). Credentials never
// leave the registry: the Authorization header is dropped as soon as the target is another host, and only https
// targets are followed.
import { UpstreamError } from './upstream-error.js';
import { discard, headerValue, type Layer, type RegistryRequest } from './dispatch.js';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface RedirectOptions {
  /** `https://host:port` of the registry: the only origin that gets the Authorization header. */
  registryOrigin: string;
  registry: string;
  label: string;
  maxRedirects: number;
}

function withoutAuthorization(headers: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).filter(([name]) => name.toLowerCase() !== 'authorization'));
}

export const redirectLayer =
  (options: RedirectOptions): Layer =>
  (next) =>
  async (request) => {
    let current: RegistryRequest = request;
    for (let hops = 0; ; hops++) {
      const response = await next(current);
      const location = headerValue(response, 'location');
      if (!REDIRECT_STATUSES.has(response.statusCode) || location === undefined) return response;
      await discard(response);
      const fail = (message: string) =>
        new UpstreamError(
          { kind: 'bad-response', registry: options.registry, status: response.statusCode },
          `registry ${options.label}: ${message}`,
        );
      if (hops >= options.maxRedirects) throw fail(`more than ${options.maxRedirects} redirects for ${request.path}`);
      let target: URL;
      try {
        target = new URL(location, response.url);
      } catch {
        throw fail(`redirect to an invalid location`);
      }
      if (target.protocol !== 'https:') throw fail(`redirect to a non-https location (${target.protocol}//${target.host}) refused`);
      const sameOrigin = target.origin === options.registryOrigin;
      current = {
        ...current,
        origin: target.origin,
        path: `${target.pathname}${target.search}`,
        headers: sameOrigin ? current.headers ?? {} : withoutAuthorization(current.headers),
      };
    }
  };
