// Single sign-on: an Authenticator that accepts the identity provider's JWT access tokens. The token is checked
// (access-token.ts) against the provider's keys (signing-keys.ts), and its groups claim decides the role
// (role-mapping.ts); the caller gets a Principal like any other, named by preferred_username and sub.
import type { Logger } from 'pino';
import { forbidden, unauthenticated } from '../../errors.js';
import type { Authenticator, Principal } from '../principal.js';
import { looksLikeJwt, verifyAccessToken } from './access-token.js';
import { IssuerClient } from './issuer-client.js';
import { describeMapping, groupsOf, roleFor, type RoleMapping } from './role-mapping.js';
import { DEFAULT_SIGNING_KEYS_OPTIONS, SigningKeys, type SigningKeysOptions } from './signing-keys.js';

/** BERTH_OIDC_*: who issues the tokens, for whom, and how their groups map to roles. */
export interface OidcSettings {
  /** The issuer identifier, exactly as tokens carry it in `iss`; discovery starts from it. */
  issuer: string;
  /** What a token's `aud` must include: Berth's resource indicator at the provider. */
  audience: string;
  /** The public client `berth login --sso` uses; only published (resource metadata), never checked in tokens. */
  clientId?: string;
  /** PEM of the CA to trust for the provider's TLS; the system's roots when absent. */
  caCertPem?: string;
  roles: RoleMapping;
  /** The claim holding the user's groups (default `groups`). */
  groupsClaim: string;
}

/** What may stand as a name in messages, logs and `last-change-by`: printable, bounded. */
const DISPLAYABLE = /^[^\x00-\x1f\x7f]{1,255}$/;

export class OidcAuthenticator implements Authenticator {
  private readonly issuerClient: IssuerClient;
  private readonly keys: SigningKeys;

  constructor(
    private readonly settings: OidcSettings,
    logger?: Logger,
    keysOptions: SigningKeysOptions = DEFAULT_SIGNING_KEYS_OPTIONS,
  ) {
    this.issuerClient = new IssuerClient(settings.issuer, settings.clientId ?? settings.audience, settings.caCertPem);
    this.keys = new SigningKeys(this.issuerClient, logger, keysOptions);
  }

  async authenticate(bearer: string): Promise<Principal | undefined> {
    // Not a JWT: one of Berth's own tokens that did not match, or garbage; the caller's generic 401 covers both.
    if (!looksLikeJwt(bearer)) return undefined;
    const { issuer, audience, groupsClaim, roles } = this.settings;
    const claims = await verifyAccessToken(bearer, { issuer, audience, keyFor: this.keys.keyFor });
    const subject = claims.sub!;
    if (!DISPLAYABLE.test(subject)) throw unauthenticated('access token subject (sub) is empty, too long or holds control characters');
    const username = claims.preferred_username;
    const name = typeof username === 'string' && DISPLAYABLE.test(username) ? username : subject;
    const claim = claims[groupsClaim];
    const groups = claim === undefined ? [] : groupsOf(claim);
    if (!groups) throw forbidden(`the access token's '${groupsClaim}' claim is not a list of group names, so it gives '${name}' no role`);
    const role = roleFor(groups, roles);
    if (!role) {
      throw forbidden(`'${name}' is in none of the groups Berth gives a role to: ${describeMapping(roles)} (claim '${groupsClaim}' of the access token)`);
    }
    return { name, role, sso: { issuer, subject } };
  }

  /** Discovers the provider and fetches its keys now rather than at the first token; a failure is logged there. */
  prefetch(): void {
    this.keys.prefetch();
  }

  async close(): Promise<void> {
    await this.issuerClient.close();
  }
}
