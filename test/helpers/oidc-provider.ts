// Starts the test OpenID Provider (oidc-provider-server.ts) in its own process on loopback, with TLS from a CA made
// here and signing keys made here (so tests can rotate them, and sign hand-made negative tokens with the real key).
// Also plays the person of the device flow: opens the verification URI, types the code, signs in, allows.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { Agent, fetch } from 'undici';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from './tls.js';
import { exitOf, PROJECT_ROOT } from './berth.js';
import { assertNoSecretIn } from './secret-values.js';
import type { ProviderProgramConfig, TestUser } from './oidc-provider-server.js';

/** Run by Node's type stripping (it imports only packages), not through a TypeScript loader. */
const PROGRAM = join(PROJECT_ROOT, 'test', 'helpers', 'oidc-provider-server.ts');

export interface OidcProviderOptions {
  audience?: string;
  clientId?: string;
  users: Record<string, TestUser>;
  accessTokenTtlSeconds?: number;
}

export interface OidcProvider {
  issuer: string;
  audience: string;
  clientId: string;
  ca: CertificateAuthority;
  /** The private signing keys the provider has now; the first signs. */
  keys: JWK[];
  /** A new signing key signs from now on; the previous ones stay published. Answers the new key's kid. */
  rotateKeys(): Promise<string>;
  /** Moves the provider's clock by `offsetSeconds` (0 puts it back). */
  setClock(offsetSeconds: number): Promise<void>;
  /** How often the key set (jwks_uri) was fetched. */
  keySetRequests(): Promise<number>;
  /** Signs `claims` with `key` (default: the provider's current signing key): for hand-made negative cases. */
  sign(claims: JWTPayload, header?: Record<string, unknown>, key?: JWK): Promise<string>;
  /** Plays the person: opens the verification URI, enters the user code, signs in as `user`, and allows. */
  approveDeviceLogin(verificationUri: string, userCode: string, user: string, password: string): Promise<void>;
  /** Plays a person who enters the code, then aborts on the confirmation page (not their device after all). */
  abortDeviceLogin(verificationUri: string, userCode: string): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

/** The settings of a Berth that trusts `provider`, its groups given roles by `roles` (BERTH_OIDC_ROLES). */
export function berthTrusting(provider: OidcProvider, roles = 'admin=berth-admins,operator=berth-ops,read=berth-readers'): Record<string, string> {
  return {
    BERTH_OIDC_ISSUER: provider.issuer,
    BERTH_OIDC_AUDIENCE: provider.audience,
    BERTH_OIDC_CLIENT_ID: provider.clientId,
    BERTH_OIDC_CA_CERT: provider.ca.certPath,
    BERTH_OIDC_ROLES: roles,
  };
}

/** An RS256 private signing key as a JWK with a fresh kid. */
export async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: `k-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

export async function startOidcProvider(options: OidcProviderOptions): Promise<OidcProvider> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-oidc-'));
  const ca = createCertificateAuthority('Test Identity Provider CA');
  const certificate = issueServerCertificate(ca, 'idp', ['127.0.0.1', 'localhost']);
  const adminSecret = randomBytes(16).toString('hex');
  let keys = [await newSigningKey()];
  const config: ProviderProgramConfig = {
    tlsCertPath: certificate.certPath,
    tlsKeyPath: certificate.keyPath,
    audience: options.audience ?? 'https://berth.test',
    clientId: options.clientId ?? 'berth-cli',
    users: options.users,
    keys,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 300,
    adminSecret,
    cookieSecret: randomBytes(16).toString('hex'),
  };
  const configPath = join(dir, 'provider.json');
  writeFileSync(configPath, JSON.stringify(config), { mode: 0o600 });
  const child: ChildProcess = spawn(process.execPath, [PROGRAM, configPath], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const issuer = await issuerAnnounced(child, () => output);

  const agent = new Agent({ connect: { ca: ca.certPem } });
  const admin = async (action: string, body: unknown) => {
    const res = await fetch(`${issuer}/test-admin/${action}`, { method: 'POST', dispatcher: agent, headers: { 'x-test-admin': adminSecret, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 200) throw new Error(`test provider ${action}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<Record<string, unknown>>;
  };

  return {
    issuer,
    audience: config.audience,
    clientId: config.clientId,
    ca,
    get keys() {
      return keys;
    },
    async rotateKeys() {
      const key = await newSigningKey();
      keys = [key, ...keys];
      await admin('keys', { keys });
      return key.kid!;
    },
    async setClock(offsetSeconds) {
      await admin('clock', { offsetSeconds });
    },
    async keySetRequests() {
      return Number((await admin('stats', {})).keySetRequests);
    },
    async sign(claims, header = {}, key = keys[0]!) {
      const alg = String(header.alg ?? key.alg ?? 'RS256');
      const signingKey = await importJWK(key, alg);
      return new SignJWT(claims).setProtectedHeader({ alg, typ: 'at+jwt', kid: key.kid, ...header }).sign(signingKey);
    },
    approveDeviceLogin: (verificationUri, userCode, user, password) => new Person(agent).approve(verificationUri, userCode, user, password),
    abortDeviceLogin: (verificationUri, userCode) => new Person(agent).abort(verificationUri, userCode),
    output: () => output,
    async stop() {
      if (agent.closed) return;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exitOf(child);
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(ca.dir, { recursive: true, force: true });
      // Like every process the tests run, the provider may have printed no secret the leak watch knows.
      assertNoSecretIn(output, `the output of the test identity provider ${child.pid}`);
    },
  };
}

/** The issuer the program prints once it listens; if it exits first, its output says why. */
async function issuerAnnounced(child: ChildProcess, output: () => string): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  try {
    const announced = (async () => {
      for await (const line of lines) {
        const match = /listening on (https:\/\/\S+)/.exec(line);
        if (match) return match[1];
      }
      return undefined;
    })();
    const issuer = await Promise.race([announced, once(child, 'exit').then(() => undefined)]);
    if (!issuer) throw new Error(`the test OpenID Provider exited before listening:\n${output()}`);
    return issuer;
  } finally {
    lines.close();
    // Closing readline pauses the stream; the output collector must go on reading it.
    child.stdout!.resume();
  }
}

interface Page {
  url: string;
  html: string;
}

/** A browser as far as the device flow needs one: cookies, redirects, and filling in the page's form. */
class Person {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly agent: Agent) {}

  private async request(url: string, form?: URLSearchParams): Promise<Page> {
    let method = form ? 'POST' : 'GET';
    let body: string | undefined = form?.toString();
    for (let hops = 0; hops < 20; hops++) {
      const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
      const res = await fetch(url, {
        method,
        dispatcher: this.agent,
        redirect: 'manual',
        headers: { ...(cookie ? { cookie } : {}), ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
      for (const line of res.headers.getSetCookie()) {
        const [pair = ''] = line.split(';');
        const eq = pair.indexOf('=');
        const name = pair.slice(0, eq).trim();
        const value = pair.slice(eq + 1).trim();
        if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
        else this.cookies.set(name, value);
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        url = new URL(location, url).href;
        method = 'GET';
        body = undefined;
        continue;
      }
      const html = await res.text();
      if (res.status !== 200) throw new Error(`${method} ${url} answered ${res.status}: ${html.slice(0, 300)}`);
      return { url, html };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  /** Submits the page's first form with its hidden fields plus `fields`. */
  private submit(page: Page, fields: Record<string, string>): Promise<Page> {
    const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(page.html);
    if (!form) throw new Error(`no form on ${page.url}: ${page.html.slice(0, 300)}`);
    const values = new URLSearchParams();
    for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/gi)) values.set(input[1]!, input[2]!);
    for (const [name, value] of Object.entries(fields)) values.set(name, value);
    return this.request(new URL(form[1]!, page.url).href, values);
  }

  async approve(verificationUri: string, userCode: string, user: string, password: string): Promise<void> {
    const entry = await this.request(verificationUri);
    const confirm = await this.submit(entry, { user_code: userCode });
    const signIn = await this.submit(confirm, {});
    if (!/name="password"/.test(signIn.html)) throw new Error(`expected the sign-in page, got: ${signIn.html.slice(0, 300)}`);
    const consent = await this.submit(signIn, { username: user, password });
    if (/wrong user name or password/.test(consent.html)) throw new Error(`the provider refused the password of ${user}`);
    const done = await this.submit(consent, {});
    if (!/Sign-in Success/.test(done.html)) throw new Error(`the device login did not end in success: ${done.html.slice(0, 300)}`);
  }

  async abort(verificationUri: string, userCode: string): Promise<void> {
    const confirm = await this.submit(await this.request(verificationUri), { user_code: userCode });
    const aborted = await this.submit(confirm, { abort: 'yes' });
    if (!/interrupted/.test(aborted.html)) throw new Error(`the abort was not confirmed: ${aborted.html.slice(0, 300)}`);
  }
}
