// `berth login`, `berth logout` and `berth context`: a Berth's URL and how to sign requests to it -- a token checked
// against it, or a single sign-on with the identity provider it names (the device flow of sso/device-login.ts) --
// kept as a named context; which context is current; the list of them. A token is read, checked and stored, never
// printed.
import { renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiClient } from './api-client.js';
import { InterruptedError, UsageError } from './cli-error.js';
import { contextsPath, DEFAULT_CONTEXT, readCaCertificate, readContexts, sessionPath, writeContexts, type Context } from './contexts.js';
import { interruptible } from './interruptible.js';
import { render, type OutputFormat } from './render.js';
import { signOnError } from './sso-access.js';
import { DEFAULT_SCOPE, deviceLogin, logout as forgetSession, readSsoTarget, type DeviceCodePrompt } from './sso/device-login.js';
import { readSession } from './sso/session-file.js';

export interface LoginOptions {
  token?: string;
  /** Single sign-on (device flow) instead of a token. */
  sso?: boolean;
  /** With sso: the CA certificate file of the identity provider's TLS. */
  idpCaCert?: string;
  /** With sso: scopes to ask for besides the default ones. */
  scope?: string[];
  context?: string;
  caCert?: string;
  quiet?: boolean;
}

interface LoginIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Reads a token typed at the terminal without echoing it, or the first line of standard input when it is not one. */
async function readToken(stdin: NodeJS.ReadStream, stderr: NodeJS.WriteStream): Promise<string> {
  if (!stdin.isTTY) {
    let text = '';
    for await (const chunk of stdin) text += (chunk as Buffer).toString();
    return text.split(/\r?\n/)[0]!.trim();
  }
  stderr.write('Token: ');
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((done, fail) => {
      let typed = '';
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString()) {
          if (char === '\r' || char === '\n') {
            stdin.off('data', onData);
            return done(typed.trim());
          }
          if (char === '\u0003') {
            stdin.off('data', onData);
            return fail(new InterruptedError('interrupted; nothing was saved'));
          }
          typed = char === '\u007f' || char === '\b' ? typed.slice(0, -1) : typed + char;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    stderr.write('\n');
  }
}

/** Berth's base URL from what was typed: http(s), no user, query or fragment, no trailing slash. */
function berthUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`login: '${url}' is not a URL; expected http(s)://HOST:PORT, the address Berth listens on`);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.search || parsed.hash || parsed.username) {
    throw new UsageError(`login: '${url}': expected an http:// or https:// URL without user, query or fragment`);
  }
  return url.replace(/\/+$/, '');
}

/** Proves that `client` reaches a Berth that takes its credentials: any role may read this. Answers its role and name. */
async function whoAnswers(client: ApiClient): Promise<string> {
  const state = (await client.call('GET', '/v1/state/system/replication')).body as { 'site-name'?: string; role?: string };
  return `${state.role ?? 'berth'} '${state['site-name'] ?? '?'}'`;
}

/** Keeps `context` under `name` as the current context; a token context replacing one of single sign-on forgets its tokens. */
function keepContext(name: string, context: Context): string {
  const file = readContexts();
  if (file.contexts[name]?.sso && !context.sso) forgetSession(sessionPath(name));
  file.contexts[name] = context;
  file['current-context'] = name;
  return writeContexts(file);
}

export async function login(url: string, options: LoginOptions, io: LoginIo): Promise<void> {
  const base = berthUrl(url);
  if (options.sso && options.token !== undefined) throw new UsageError('login: --token and --sso are two ways to log in; give one');
  if (!options.sso && (options.idpCaCert !== undefined || options.scope?.length)) throw new UsageError('login: --idp-ca-cert and --scope go with --sso');
  const name = options.context ?? DEFAULT_CONTEXT;
  const caCert = options.caCert !== undefined ? resolve(options.caCert) : undefined;
  if (options.sso) return ssoLogin(base, name, caCert, options, io);

  const token = options.token ?? (process.env.BERTH_TOKEN || (await readToken(io.stdin, io.stderr)));
  if (!token) throw new UsageError('login: no token given: --token TOKEN, BERTH_TOKEN, or type it when asked');
  const client = new ApiClient({ url: base, token, ...(caCert ? { caCertFile: caCert } : {}), source: 'berth login' });
  try {
    const berth = await whoAnswers(client);
    const where = keepContext(name, { url: base, token, ...(caCert ? { 'ca-cert': caCert } : {}) });
    if (!options.quiet) io.stdout.write(`logged in to ${base} (${berth}) as context '${name}', saved in ${where}\n`);
  } finally {
    await client.close();
  }
}

/** Shows where to sign on: on standard error, so standard output stays the command's answer. */
const showPrompt = (stderr: NodeJS.WriteStream) => (prompt: DeviceCodePrompt) => {
  const complete = prompt.verificationUriComplete ? `\n(or open ${prompt.verificationUriComplete}, which has the code in it)` : '';
  stderr.write(
    `To sign in, open ${prompt.verificationUri} in a browser and enter the code ${prompt.userCode}${complete}\n` +
      `The code is valid for ${Math.round(prompt.expiresInSeconds / 60)} minutes. Waiting for you to sign in (Ctrl-C to stop)...\n`,
  );
};

/**
 * `berth login URL --sso`: reads where to sign on from Berth, runs the device flow into a pending session file, proves
 * Berth takes the access token, and only then makes it the context's session: a failed login leaves the previous one.
 */
async function ssoLogin(base: string, name: string, caCert: string | undefined, options: LoginOptions, io: LoginIo): Promise<void> {
  const idpCaCert = options.idpCaCert !== undefined ? resolve(options.idpCaCert) : undefined;
  const idpCaCertPem = idpCaCert !== undefined ? readCaCertificate(idpCaCert, '--idp-ca-cert') : undefined;
  const berthCaCertPem = caCert !== undefined ? readCaCertificate(caCert, '--ca-cert') : undefined;
  const sessionFile = sessionPath(name);
  const pending = `${sessionFile}.${process.pid}.pending`;
  const scope = [DEFAULT_SCOPE, ...(options.scope ?? [])].join(' ');
  try {
    const target = await readSsoTarget(base, berthCaCertPem);
    await interruptible(
      (signal) => deviceLogin({ ...target, ...(idpCaCertPem !== undefined ? { caCertPem: idpCaCertPem } : {}), sessionFile: pending, scope, prompt: showPrompt(io.stderr), signal }),
      () => 'interrupted; nothing was saved',
    );
    const context: Context = { url: base, ...(caCert ? { 'ca-cert': caCert } : {}), sso: idpCaCert ? { 'idp-ca-cert': idpCaCert } : {} };
    const client = new ApiClient({
      url: base,
      ...(caCert ? { caCertFile: caCert } : {}),
      source: 'berth login',
      sso: { sessionFile: pending, ...(idpCaCert ? { idpCaCertFile: idpCaCert } : {}), context: name },
    });
    let berth: string;
    try {
      berth = await whoAnswers(client);
    } finally {
      await client.close();
    }
    renameSync(pending, sessionFile);
    const where = keepContext(name, context);
    if (!options.quiet) {
      io.stdout.write(`logged in to ${base} (${berth}) as context '${name}' by single sign-on at ${target.issuer}; context saved in ${where}, tokens in ${sessionFile}\n`);
    }
  } catch (error) {
    throw signOnError(error, 'login: ');
  } finally {
    rmSync(pending, { force: true });
  }
}

export function useContext(name: string, io: { stdout: NodeJS.WriteStream }, quiet = false): void {
  const file = readContexts();
  if (!file.contexts[name]) throw new UsageError(`no context '${name}' in ${contextsPath()}; known: ${Object.keys(file.contexts).join(', ') || 'none'}`);
  file['current-context'] = name;
  writeContexts(file);
  if (!quiet) io.stdout.write(`now using context '${name}' (${file.contexts[name].url})\n`);
}

export function removeContext(name: string, io: { stdout: NodeJS.WriteStream }, quiet = false): void {
  const file = readContexts();
  if (!file.contexts[name]) throw new UsageError(`no context '${name}' in ${contextsPath()}`);
  if (file.contexts[name].sso) forgetSession(sessionPath(name));
  delete file.contexts[name];
  if (file['current-context'] === name) delete file['current-context'];
  writeContexts(file);
  if (!quiet) io.stdout.write(`removed context '${name}'\n`);
}

/**
 * `berth logout`: forgets how the context signs on -- the tokens of its single sign-on, or its token -- and keeps its
 * URL, so `berth login URL --sso` signs on again. Nothing is revoked at the identity provider.
 */
export function logout(contextName: string | undefined, io: { stdout: NodeJS.WriteStream }, quiet = false): void {
  const file = readContexts();
  const name = contextName ?? file['current-context'] ?? DEFAULT_CONTEXT;
  const context = file.contexts[name];
  if (!context) throw new UsageError(`no context '${name}' in ${contextsPath()}; known: ${Object.keys(file.contexts).join(', ') || 'none'}`);
  let said: string;
  if (context.sso) {
    said = forgetSession(sessionPath(name))
      ? `logged out of context '${name}' (${context.url}): its single sign-on tokens are forgotten here; the identity provider was not told (its session ends on its own, or when you sign out there)`
      : `context '${name}' (${context.url}) was not logged in`;
  } else if (context.token) {
    delete context.token;
    writeContexts(file);
    said = `logged out of context '${name}' (${context.url}): its token is forgotten here, and still valid at Berth until revoked there`;
  } else {
    said = `context '${name}' (${context.url}) was not logged in`;
  }
  if (!quiet) io.stdout.write(`${said}\n`);
}

/** How a context signs on, for the list: never a token, only whether there is one. */
function credentialsOf(name: string, context: Context): Record<string, string> {
  if (!context.sso) return { token: context.token ? 'set' : 'none' };
  let session: string;
  try {
    const kept = readSession(sessionPath(name));
    session = kept ? `logged in at ${kept.issuer}` : 'logged out';
  } catch (error) {
    session = `unreadable session: ${(error as Error).message}`;
  }
  return { sso: session, ...(context.sso['idp-ca-cert'] ? { 'idp-ca-cert': context.sso['idp-ca-cert'] } : {}) };
}

/** The contexts without their tokens. */
export function listContexts(io: { stdout: NodeJS.WriteStream }, output: OutputFormat): void {
  const file = readContexts();
  const current = file['current-context'] ?? DEFAULT_CONTEXT;
  const list = Object.entries(file.contexts).map(([name, context]) => ({
    name,
    url: context.url,
    ...(context['ca-cert'] ? { 'ca-cert': context['ca-cert'] } : {}),
    ...credentialsOf(name, context),
    current: name === current,
  }));
  io.stdout.write(render(list, output));
}
