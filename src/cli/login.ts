// `berth login` and `berth context`: a Berth's URL and token checked against it, then kept as a named context;
// which context is current; the list of them. A token is read, checked and stored, never printed.
import { resolve } from 'node:path';
import { ApiClient } from './api-client.js';
import { InterruptedError, UsageError } from './cli-error.js';
import { contextsPath, DEFAULT_CONTEXT, readContexts, writeContexts } from './contexts.js';
import { render, type OutputFormat } from './render.js';

export interface LoginOptions {
  token?: string;
  context?: string;
  caCert?: string;
  quiet?: boolean;
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

export async function login(url: string, options: LoginOptions, io: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream }): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`login: '${url}' is not a URL; expected http(s)://HOST:PORT, the address Berth listens on`);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.search || parsed.hash || parsed.username) {
    throw new UsageError(`login: '${url}': expected an http:// or https:// URL without user, query or fragment`);
  }
  const token = options.token ?? (process.env.BERTH_TOKEN || (await readToken(io.stdin, io.stderr)));
  if (!token) throw new UsageError('login: no token given: --token TOKEN, BERTH_TOKEN, or type it when asked');
  const caCert = options.caCert !== undefined ? resolve(options.caCert) : undefined;
  const base = url.replace(/\/+$/, '');
  const client = new ApiClient({ url: base, token, ...(caCert ? { caCertFile: caCert } : {}), source: 'berth login' });
  try {
    // Any role may read this: it proves the URL is a Berth and the token is one it accepts.
    const answer = await client.call('GET', '/v1/state/system/replication');
    const state = answer.body as { 'site-name'?: string; role?: string };
    const name = options.context ?? DEFAULT_CONTEXT;
    const file = readContexts();
    file.contexts[name] = { url: base, token, ...(caCert ? { 'ca-cert': caCert } : {}) };
    file['current-context'] = name;
    const where = writeContexts(file);
    if (!options.quiet) {
      io.stdout.write(`logged in to ${base} (${state.role ?? 'berth'} '${state['site-name'] ?? '?'}') as context '${name}', saved in ${where}\n`);
    }
  } finally {
    await client.close();
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
  delete file.contexts[name];
  if (file['current-context'] === name) delete file['current-context'];
  writeContexts(file);
  if (!quiet) io.stdout.write(`removed context '${name}'\n`);
}

/** The contexts without their tokens. */
export function listContexts(io: { stdout: NodeJS.WriteStream }, output: OutputFormat): void {
  const file = readContexts();
  const current = file['current-context'] ?? DEFAULT_CONTEXT;
  const list = Object.entries(file.contexts).map(([name, context]) => ({
    name,
    url: context.url,
    ...(context['ca-cert'] ? { 'ca-cert': context['ca-cert'] } : {}),
    token: context.token ? 'set' : 'none',
    current: name === current,
  }));
  io.stdout.write(render(list, output));
}
