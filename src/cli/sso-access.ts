// A command's requests under a context's single sign-on: each carries the access token of the context's session
// file, refreshed at the identity provider before it runs out and once more when Berth answers 401
// (sso/device-login.ts does both, under a lock shared by concurrent commands). A missing session, a refused refresh
// or an unreachable provider become CliErrors that say what to do; no token is ever part of a message.
import { existsSync } from 'node:fs';
import { CliError, EXIT, RefusedError, UnreachableError } from './cli-error.js';
import { readCaCertificate, type SsoCredentials } from './contexts.js';
import { SsoError, withAccessToken } from './sso/device-login.js';
import { SessionFileError } from './sso/session-file.js';

/** TLS error codes of Node and OpenSSL: the certificate is not trusted, so a CA certificate is missing. */
const UNTRUSTED = /CERT|SSL|TLS|SIGNATURE|ALTNAME/;

/** The command that signs this context on again. */
export function loginCommand(url: string, context: string): string {
  return `berth login ${url} --sso${context === 'default' ? '' : ` --context ${context}`}`;
}

/** The CliError of a failure to sign on or refresh: exit 3 when nobody answered, 1 when the provider refused. */
export function signOnError(error: unknown, prefix = ''): unknown {
  // An unreadable session file, or one whose refresh lock another command holds: nothing was sent.
  if (error instanceof SessionFileError) return new CliError(`${prefix}${error.message}`, EXIT.refused);
  if (!(error instanceof SsoError)) return error;
  const reach = error.unreachable;
  if (!reach) return new RefusedError(`${prefix}${error.message}`);
  const hint = reach.code && UNTRUSTED.test(reach.code) ? `; give ${reach.what === 'provider' ? "the identity provider's CA certificate with --idp-ca-cert" : "Berth's CA certificate with --ca-cert"}` : '';
  return new UnreachableError(`${prefix}${error.message}${hint}`);
}

export class SsoAccess {
  private readonly caCertPem: string | undefined;

  constructor(
    private readonly credentials: SsoCredentials,
    private readonly url: string,
  ) {
    const file = credentials.idpCaCertFile;
    this.caCertPem = file !== undefined ? readCaCertificate(file, `the identity provider's CA certificate of context '${credentials.context}'`) : undefined;
  }

  /** Calls `send` with an access token, and once more with a refreshed one if Berth answers 401. */
  async send<T extends { status: number }>(send: (token: string) => Promise<T>): Promise<T> {
    const { sessionFile, context } = this.credentials;
    if (!existsSync(sessionFile)) {
      throw new RefusedError(`not logged in to ${this.url} (context '${context}' signs on with single sign-on, and has no session): run '${loginCommand(this.url, context)}'`);
    }
    try {
      return await withAccessToken(sessionFile, this.caCertPem !== undefined ? { caCertPem: this.caCertPem } : {}, send);
    } catch (error) {
      throw signOnError(error, `single sign-on of context '${context}': `);
    }
  }

  /** What a 401 after the retry means. */
  refusedHint(): string {
    return ` (Berth refused the single sign-on of context '${this.credentials.context}' even with a refreshed token; run '${loginCommand(this.url, this.credentials.context)}')`;
  }
}
