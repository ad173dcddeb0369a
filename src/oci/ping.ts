// Is it a registry at all? `GET /v2/` without credentials must answer 200 or 401 and carry
// `Docker-Distribution-API-Version: registry/2.0`; a web server that answers 200 to everything is not one.
import { discard, headerValue, type Send } from './dispatch.js';
import { UpstreamError } from './upstream-error.js';
import { responseFailure } from './response-failure.js';
import { parseWwwAuthenticate } from './www-authenticate.js';

export interface PingResult {
  /** The registry answered 401 to an anonymous `GET /v2/`. */
  authenticationRequired: boolean;
  /** The challenge scheme it asked for (`basic`, `bearer`), lowercased. */
  scheme?: string;
}

export async function pingRegistry(send: Send, context: { registry: string; label: string }): Promise<PingResult> {
  const response = await send({ method: 'GET', path: '/v2/', headers: { accept: 'application/json' } });
  const status = response.statusCode;
  // Rate limits and server errors say the registry is there but unwell: report those as such.
  if (status === 429 || status >= 500) throw await responseFailure(response, { ...context, subject: 'the registry API (/v2/)' });
  await discard(response);
  const version = headerValue(response, 'docker-distribution-api-version');
  if ((status !== 200 && status !== 401) || version?.trim() !== 'registry/2.0') {
    const why =
      status !== 200 && status !== 401
        ? `answered HTTP ${status} to GET /v2/`
        : 'answered GET /v2/ without the header Docker-Distribution-API-Version: registry/2.0';
    throw new UpstreamError(
      { kind: 'not-a-registry', registry: context.registry, status },
      `registry ${context.label}: ${response.url.host} is not an OCI/Docker registry: it ${why}`,
    );
  }
  const scheme = status === 401 ? parseWwwAuthenticate(response.headers['www-authenticate'])[0]?.scheme : undefined;
  return { authenticationRequired: status === 401, ...(scheme !== undefined ? { scheme } : {}) };
}
