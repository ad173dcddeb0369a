// Checks an identity provider's JWT access token (RFC 9068) with jose: the header first (an asymmetric algorithm
// from the allow-list, a key id, an access token's type), the issuer before any key is fetched, then the signature
// against the issuer's keys and the claims (aud, exp and nbf with a little clock skew, sub). Every failure is a 401
// that says what was wrong and never repeats the token.
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { BerthError, unauthenticated } from '../../errors.js';

/** Asymmetric signatures only: no `none`, no HMAC (an HS256 token "signed" with the public key must fail). */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/**
 * `at+jwt` is an access token's type (RFC 9068); Keycloak and Entra ID type theirs plain `JWT`. An ID token, a logout
 * token or anything else typed is refused (ID tokens also fail the audience: theirs is the CLI's client id).
 */
const ACCEPTED_TYPES = new Set(['at+jwt', 'application/at+jwt', 'jwt']);

/** Clocks of the provider and Berth may differ this much (seconds) before exp and nbf count. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/** A JWS in compact form: three base64url parts. Anything else is not a JWT and left to other authenticators. */
export const looksLikeJwt = (token: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);

export interface AccessTokenExpectations {
  issuer: string;
  audience: string;
  keyFor: JWTVerifyGetKey;
}

function claimProblem(error: errors.JWTClaimValidationFailed, audience: string): string {
  switch (error.claim) {
    case 'aud':
      return `access token is not meant for Berth: its audience (aud) does not include '${audience}'`;
    case 'iss':
      return 'access token is not from the issuer Berth trusts';
    case 'nbf':
      return 'access token is not valid yet (nbf)';
    default:
      return error.reason === 'missing' ? `access token lacks the '${error.claim}' claim` : `access token claim '${error.claim}' is invalid`;
  }
}

/** jose reports a header that does not decode as a TypeError; that is the token's fault, not a bug here. */
function protectedHeaderOf(token: string): ReturnType<typeof decodeProtectedHeader> {
  try {
    return decodeProtectedHeader(token);
  } catch {
    throw unauthenticated('access token is not a well-formed JWT (its header is not base64url-encoded JSON)');
  }
}

/** The token's verified claims. Throws a 401 BerthError for any fault of the token, a 503 when keys cannot be had. */
export async function verifyAccessToken(token: string, expected: AccessTokenExpectations): Promise<JWTPayload> {
  try {
    const header = protectedHeaderOf(token);
    if (typeof header.alg !== 'string' || !ACCEPTED_ALGORITHMS.includes(header.alg)) {
      throw unauthenticated('access token is signed with an algorithm Berth does not accept (RS*, PS*, ES* and EdDSA only)');
    }
    if (header.typ !== undefined && !ACCEPTED_TYPES.has(String(header.typ).toLowerCase())) {
      throw unauthenticated('access token has a type (typ) that is not an access token\'s (at+jwt)');
    }
    if (typeof header.kid !== 'string' || header.kid === '') throw unauthenticated('access token names no signing key (kid)');
    // The issuer first: a token of any other issuer never makes Berth fetch keys.
    if (decodeJwt(token).iss !== expected.issuer) throw unauthenticated('access token is not from the issuer Berth trusts');
    const { payload } = await jwtVerify(token, expected.keyFor, {
      issuer: expected.issuer,
      audience: expected.audience,
      algorithms: ACCEPTED_ALGORITHMS,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'sub'],
    });
    return payload;
  } catch (e) {
    if (e instanceof BerthError) throw e;
    if (e instanceof errors.JWTExpired) throw unauthenticated('access token has expired');
    if (e instanceof errors.JWTClaimValidationFailed) throw unauthenticated(claimProblem(e, expected.audience));
    if (e instanceof errors.JWSSignatureVerificationFailed) throw unauthenticated('access token signature does not verify with the issuer\'s key');
    if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) {
      throw unauthenticated('access token names a key (kid) the issuer publishes for another algorithm, or more than once');
    }
    if (e instanceof errors.JOSEError) throw unauthenticated(`access token is not a well-formed JWT (${e.message})`);
    throw e;
  }
}
