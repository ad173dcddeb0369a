// Authentication as a layer: a request goes anonymously until the registry has challenged once; then each request
// carries what that challenge asks for (Basic, or a Bearer token for the request's scope) with the credential of
// the repository it touches. A 401 is answered once with fresh authorization before it becomes an error.
import { basicAuthorization, isTokenCredential, type CredentialResolver, type RegistryCredential } from './credentials.js';
import type { BearerTokenSource } from './bearer-token.js';
import { discard, type AuthScope, type Layer, type RegistryResponse } from './dispatch.js';
import { UpstreamError } from './upstream-error.js';
import { parseWwwAuthenticate, type Challenge } from './www-authenticate.js';

export interface AuthOptions {
  registry: string;
  label: string;
  /** Only answers from here are challenges to us; a 401 from a redirect target is not. */
  registryOrigin: string;
  credentialFor: CredentialResolver;
  tokens: BearerTokenSource;
}

/** The token scope a request needs (Docker token spec), or none for a login check. */
export function tokenScope(scope: AuthScope): string | undefined {
  switch (scope.type) {
    case 'repository':
      return `repository:${scope.repository}:pull`;
    case 'catalog':
      return 'registry:catalog:*';
    case 'registry':
      return undefined;
  }
}

/** What the credential resolver is asked for: the repository, or `'*'` for registry-wide calls. */
export const credentialKey = (scope: AuthScope): string => (scope.type === 'repository' ? scope.repository : '*');

const describeScope = (scope: AuthScope): string =>
  scope.type === 'repository' ? `repository ${scope.repository}` : scope.type === 'catalog' ? 'the catalog' : 'the registry';

interface Authorization {
  header: string;
  /** Sending the same again cannot help when this is false: nothing fresher can be had. */
  renewable: boolean;
}

/** Bearer when offered (it carries scopes), else Basic; other schemes (NTLM, ...) are not for registries. */
function pickChallenge(response: RegistryResponse): Challenge | undefined {
  const challenges = parseWwwAuthenticate(response.headers['www-authenticate']);
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') ?? challenges[0];
}

export const authLayer = (options: AuthOptions): Layer => {
  /** The registry's last challenge: registries challenge the same way for every request, so we answer it up front. */
  let knownChallenge: Challenge | undefined;

  const fail = (kind: 'unauthorized' | 'forbidden', message: string) =>
    new UpstreamError({ kind, registry: options.registry, status: 401 }, `registry ${options.label}: ${message}`);

  async function authorize(
    challenge: Challenge,
    scope: AuthScope,
    credential: RegistryCredential | undefined,
    fresh: boolean,
  ): Promise<Authorization | undefined> {
    // A token credential is a bearer token already (e.g. a registry access token): sent as is, whatever the scheme.
    if (credential && isTokenCredential(credential)) return { header: `Bearer ${credential.token}`, renewable: false };
    if (challenge.scheme === 'basic') {
      return credential ? { header: basicAuthorization(credential), renewable: false } : undefined;
    }
    if (challenge.scheme === 'bearer') {
      const realm = challenge.params.realm;
      if (!realm) {
        throw new UpstreamError(
          { kind: 'bad-response', registry: options.registry, status: 401 },
          `registry ${options.label}: Bearer challenge without a realm`,
        );
      }
      const scopeParam = tokenScope(scope);
      const issued = await options.tokens.token(
        {
          realm,
          ...(challenge.params.service !== undefined ? { service: challenge.params.service } : {}),
          ...(scopeParam !== undefined ? { scope: scopeParam } : {}),
          ...(credential ? { credential } : {}),
        },
        { fresh },
      );
      return { header: `Bearer ${issued.token}`, renewable: issued.fromCache };
    }
    throw fail('unauthorized', `asks for '${challenge.scheme}' authentication, which Berth does not support`);
  }

  function rejection(scope: AuthScope, credential: RegistryCredential | undefined, challenge: Challenge | undefined): UpstreamError {
    const what = describeScope(scope);
    if (!credential) return fail('unauthorized', `${what} requires credentials and none are configured for it`);
    // With token auth the credential was accepted by the token service; the token just does not grant the access.
    if (challenge?.params.error === 'insufficient_scope') {
      return fail('forbidden', `the credentials for ${what} are not allowed to read it (insufficient_scope)`);
    }
    return fail('unauthorized', `rejected the credentials for ${what}`);
  }

  return (next) => async (request) => {
    const scope = request.scope;
    if (!scope) return next(request);
    // Resolved only once the registry has asked for authentication: an open registry never costs a secret lookup.
    let credential: RegistryCredential | undefined;
    let resolved = false;
    const resolveCredential = async () => {
      if (!resolved) credential = await options.credentialFor(credentialKey(scope));
      resolved = true;
      return credential;
    };
    const send = (authorization: Authorization | undefined) =>
      next(authorization ? { ...request, headers: { ...request.headers, authorization: authorization.header } } : request);

    const usedChallenge = knownChallenge;
    const first = usedChallenge ? await authorize(usedChallenge, scope, await resolveCredential(), false) : undefined;
    const response = await send(first);
    if (response.statusCode !== 401 || response.url.origin !== options.registryOrigin) return response;
    const challenge = pickChallenge(response);
    if (!challenge) return response; // no challenge to answer: the caller reports the 401 as it is
    await discard(response);
    knownChallenge = challenge;
    await resolveCredential();

    const sameScheme = usedChallenge?.scheme === challenge.scheme;
    if (first && sameScheme && !first.renewable) throw rejection(scope, credential, challenge);
    const second = await authorize(challenge, scope, credential, true);
    if (!second) throw rejection(scope, credential, challenge);
    const retried = await send(second);
    if (retried.statusCode !== 401 || retried.url.origin !== options.registryOrigin) return retried;
    const finalChallenge = pickChallenge(retried);
    await discard(retried);
    throw rejection(scope, credential, finalChallenge);
  };
};
