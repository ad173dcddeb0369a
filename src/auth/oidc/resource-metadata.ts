// What Berth tells clients about signing on, unauthenticated: OAuth 2.0 Protected Resource Metadata (RFC 9728) at
// /.well-known/oauth-protected-resource. `berth login URL --sso` reads the issuer, the audience to ask tokens for
// (the resource indicator) and the CLI's public client id from it, so a user needs nothing but Berth's URL.
import type { OidcSettings } from './oidc-authenticator.js';

export interface ProtectedResourceMetadata {
  /** The audience tokens must carry; the `resource` a client asks its tokens for (RFC 8707). */
  resource: string;
  authorization_servers: string[];
  bearer_methods_supported: string[];
  resource_name: string;
  /** Berth's own member: the public client id of the `berth` CLI at the provider, when configured. */
  berth_cli_client_id?: string;
}

export function protectedResourceMetadata(settings: OidcSettings): ProtectedResourceMetadata {
  return {
    resource: settings.audience,
    authorization_servers: [settings.issuer],
    bearer_methods_supported: ['header'],
    resource_name: 'Berth',
    ...(settings.clientId ? { berth_cli_client_id: settings.clientId } : {}),
  };
}

export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';
