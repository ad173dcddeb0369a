// The CLI's only way to Berth: HTTP requests with undici (a CA of its own with --ca-cert), signed with the context's
// token or its single sign-on (sso-access.ts), answers read as JSON, failures turned into CliErrors: an error answer
// is `refused` (its error-message on one line), no answer at all is `unreachable`.
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import yaml from 'js-yaml';
import { RefusedError, UnreachableError } from './cli-error.js';
import { readCaCertificate, type Target } from './contexts.js';
import { SsoAccess } from './sso-access.js';

export interface RequestOptions {
  query?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  accept?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** No time limit on the answer: operations answer when their work is done. */
  long?: boolean;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body parsed (JSON), or undefined when there is none. */
  body: unknown;
}

interface ErrorEntry {
  'error-message'?: unknown;
  'error-info'?: unknown;
}

/** Time allowed for an answer to anything but an operation. */
const ANSWER_TIMEOUT_MS = 60_000;

/** Words for why there is no answer, from Node's and undici's error codes. */
function reasonOf(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause ?? error;
  const code = (cause as { code?: unknown }).code ?? (error as { code?: unknown }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is Berth running?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'its host name does not resolve';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'no connection within the time allowed';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'no answer within the time allowed';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was closed before an answer';
    default:
      if (typeof code === 'string' && /CERT|SSL|TLS|SIGNATURE|ALTNAME/.test(code)) return `TLS failed (${code}); give the CA certificate with --ca-cert`;
      return typeof code === 'string' ? code : (cause as Error).message ?? 'unknown failure';
  }
}

/** The error answer as one line, `412 Precondition Failed: <error-message>`, and its whole error body as YAML. */
async function refusal(status: number, body: Readable, hint: string): Promise<RefusedError> {
  const text = await readText(body);
  let entries: ErrorEntry[] = [];
  try {
    const parsed = JSON.parse(text) as { errors?: ErrorEntry[] };
    if (Array.isArray(parsed.errors)) entries = parsed.errors;
  } catch {
    // Not an API error body (a proxy's page): the status says it all.
  }
  const first = entries[0]?.['error-message'];
  const more = entries.length > 1 ? ` (and ${entries.length - 1} more; -v shows them)` : '';
  const message = `${status} ${STATUS_CODES[status] ?? ''}${typeof first === 'string' ? `: ${first}` : ''}${more}${hint}`;
  return new RefusedError(message, entries.length > 0 ? yaml.dump({ errors: entries }, { lineWidth: -1 }).trimEnd() : undefined);
}

async function readText(body: Readable): Promise<string> {
  let text = '';
  for await (const chunk of body) text += (chunk as Buffer).toString();
  return text;
}

export class ApiClient {
  private readonly dispatcher: Dispatcher | undefined;
  private readonly sso: SsoAccess | undefined;

  constructor(private readonly target: Target) {
    if (target.sso) this.sso = new SsoAccess(target.sso, target.url);
    if (target.caCertFile) this.dispatcher = new Agent({ connect: { ca: readCaCertificate(target.caCertFile, '--ca-cert') } });
  }

  get url(): string {
    return this.target.url;
  }

  /**
   * Sends the request and hands back the answer as it comes, whatever its status; throws only when there is none (or,
   * under single sign-on, when no access token can be had).
   */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<RawAnswer> {
    if (!this.sso) return this.sendWith(this.target.token, method, path, options);
    return this.sso.send(async (token) => {
      const answer = await this.sendWith(token, method, path, options);
      if (answer.status !== 401) return answer;
      // Tried again with a refreshed token; read now, so its connection is free and its message kept if that fails too.
      return { ...answer, body: Readable.from([await readText(answer.body)]) };
    });
  }

  private async sendWith(token: string | undefined, method: string, path: string, options: RequestOptions): Promise<RawAnswer> {
    const query = new URLSearchParams(options.query ?? {}).toString();
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json', 'user-agent': 'berth-cli', ...options.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const timeout = options.long ? 0 : ANSWER_TIMEOUT_MS;
    try {
      const answer = await request(`${this.target.url}${path}${query ? `?${query}` : ''}`, {
        method: method as Dispatcher.HttpMethod,
        headers,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        ...(body !== undefined ? { body } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
      return { status: answer.statusCode, headers: answer.headers, body: answer.body };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new UnreachableError(`cannot reach Berth at ${this.target.url} (${this.target.source}): ${reasonOf(error)}`);
    }
  }

  /** Sends the request; a 2xx answer comes back parsed, anything else is thrown as a RefusedError. */
  async call(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const raw = await this.send(method, path, options);
    if (raw.status >= 400) throw await this.refusedBy(raw);
    const text = await readText(raw.body);
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: raw.status, headers: raw.headers, body: parsed };
  }

  /** The error an answer of status 400 and above is, as one line; a 401 says which token was refused. */
  refusedBy(answer: RawAnswer): Promise<RefusedError> {
    return refusal(answer.status, answer.body, answer.status === 401 ? this.unauthorizedHint() : '');
  }

  private unauthorizedHint(): string {
    if (this.sso) return this.sso.refusedHint();
    const token = this.target.token ? `the token from ${this.target.tokenSource ?? this.target.source} was refused` : 'no token was given';
    return ` (${token}; check BERTH_TOKEN, or run 'berth login')`;
  }

  async close(): Promise<void> {
    await this.dispatcher?.close();
  }
}
