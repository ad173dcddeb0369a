// A real Docker token service for docker-registry's `auth.token`: HTTPS (cert from the test CA), Basic credentials
// checked against a users table with per-repository grants, RS256 JWTs whose x5c chains to the registry's roots.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from './tls.js';

export interface TokenUser {
  password: string;
  /** Repositories this user may pull: exact names, `prefix/*` for everything below a prefix, or `*`. */
  pull?: string[];
  /** Repositories this user may push to, same patterns. */
  push?: string[];
  /** May list the catalog (`registry:catalog:*`). */
  catalog?: boolean;
}

export interface TokenIssuerOptions {
  /** The CA whose certificate serves the issuer's HTTPS (the one clients already trust for the registry). */
  ca: CertificateAuthority;
  users: Record<string, TokenUser>;
  /** What a request without credentials may pull; by default nothing (it gets a token with no access). */
  anonymousPull?: string[];
  service?: string;
  issuer?: string;
  expiresInSeconds?: number;
}

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenRequestRecord {
  /** The Basic username, or undefined for an anonymous request. */
  account: string | undefined;
  /** The `scope` parameters as sent. */
  scopes: string[];
  /** 200 when a token was issued, 401 for bad credentials, 400 for a wrong service. */
  status: number;
  granted: Access[];
}

export interface RunningTokenIssuer {
  /** `https://127.0.0.1:PORT/token`, for the registry's `auth.token.realm`. */
  realm: string;
  service: string;
  issuer: string;
  /** The root the registry must trust for token signatures (`auth.token.rootcertbundle`). */
  rootCertBundlePem: string;
  /** Every token request in arrival order, so tests can see which credential asked for what, and caching. */
  requests: TokenRequestRecord[];
  stop(): Promise<void>;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

const matches = (patterns: string[] | undefined, name: string) =>
  (patterns ?? []).some((p) => p === '*' || p === name || (p.endsWith('/*') && name.startsWith(p.slice(0, -1))));

/** `repository:name:pull,push` -> parts; the name may not contain ':' but the split is from both ends anyway. */
function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',') };
}

/** An RSA signing certificate issued by a dedicated RSA CA: docker-registry verifies the x5c chain to that CA. */
function createSigner(): { key: ReturnType<typeof createPrivateKey>; x5c: string[]; rootPem: string; dir: string } {
  const ca = createCertificateAuthority('Berth Token Signing CA', 'rsa');
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: ca.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  writeFileSync(join(ca.dir, 'signer.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n');
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'signer.key', '-out', 'signer.csr', '-subj', '/CN=berth-token-signer']);
  run(['x509', '-req', '-in', 'signer.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'signer.crt',
    '-days', '3', '-extfile', 'signer.ext']);
  const der = new X509Certificate(readFileSync(join(ca.dir, 'signer.crt'))).raw;
  return { key: createPrivateKey(readFileSync(join(ca.dir, 'signer.key'))), x5c: [der.toString('base64')], rootPem: ca.certPem, dir: ca.dir };
}

export async function startTokenIssuer(options: TokenIssuerOptions): Promise<RunningTokenIssuer> {
  const service = options.service ?? 'berth-test-registry';
  const issuer = options.issuer ?? 'berth-test-token-issuer';
  const expiresIn = options.expiresInSeconds ?? 300;
  const signer = createSigner();
  const tlsCert = issueServerCertificate(options.ca, `token-issuer-${randomUUID().slice(0, 8)}`);
  const requests: TokenRequestRecord[] = [];

  const issue = (account: string | undefined, access: Access[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: signer.x5c };
    const claims = { iss: issuer, sub: account ?? '', aud: service, exp: now + expiresIn, nbf: now, iat: now, jti: randomUUID(), access };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    return `${input}.${base64url(sign('sha256', Buffer.from(input), signer.key))}`;
  };

  const server: Server = createServer({ key: tlsCert.keyPem, cert: tlsCert.certPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://token.test');
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    const answer = (status: number, body: unknown, account: string | undefined, granted: Access[] = []) => {
      requests.push({ account, scopes, status, granted });
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(status === 401 ? { 'www-authenticate': 'Basic realm="berth-test-token-issuer"' } : {}),
      });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/token') return answer(404, { error: 'not found' }, undefined);

    let account: string | undefined;
    let user: TokenUser | undefined;
    const authorization = req.headers.authorization ?? '';
    if (authorization !== '') {
      const match = /^Basic\s+(\S+)$/i.exec(authorization);
      const decoded = match ? Buffer.from(match[1] ?? '', 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      account = colon > 0 ? decoded.slice(0, colon) : undefined;
      user = account !== undefined ? options.users[account] : undefined;
      if (!user || user.password !== decoded.slice(colon + 1)) return answer(401, { details: 'invalid credentials' }, account);
    }
    if (url.searchParams.get('service') !== service) return answer(400, { details: 'unknown service' }, account);

    const granted: Access[] = [];
    for (const scope of scopes) {
      const wanted = parseScope(scope);
      if (!wanted) continue;
      const allowed = wanted.actions.filter((action) => {
        if (wanted.type === 'registry') return wanted.name === 'catalog' && action === '*' && user?.catalog === true;
        if (wanted.type !== 'repository') return false;
        if (action === 'pull') return matches(user ? user.pull : options.anonymousPull, wanted.name);
        if (action === 'push') return user !== undefined && matches(user.push, wanted.name);
        return false;
      });
      // Like Docker Hub: what is not allowed is left out of the token rather than refused.
      if (allowed.length > 0) granted.push({ type: wanted.type, name: wanted.name, actions: allowed });
    }
    const token = issue(account, granted);
    return answer(
      200,
      { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() },
      account,
      granted,
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    realm: `https://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundlePem: signer.rootPem,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(signer.dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
