// A small client for Berth's /v1 API in tests: YAML or JSON in and out, raw access to status and headers.
import yaml from 'js-yaml';
import { assertNoSecretIn } from './secret-values.js';

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed by its Content-Type (YAML or JSON); undefined when empty. */
  body: unknown;
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as-is when a string; otherwise serialised by `contentType`. */
  contentType?: string;
  accept?: string;
  headers?: Record<string, string>;
  token?: string | null;
}

export function parseBody(text: string, contentType: string | null): unknown {
  if (text === '') return undefined;
  // A stream of JSON objects, one a line: the lines parsed, in order.
  if (/ndjson/.test(contentType ?? '')) return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as unknown);
  if (/yaml/.test(contentType ?? '')) return yaml.load(text);
  if (/json/.test(contentType ?? '')) return JSON.parse(text);
  return text;
}

export class Api {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
    /** Called with every response, e.g. to check it against the contract. */
    private readonly inspect?: (method: string, path: string, res: ApiResponse) => void,
  ) {}

  withToken(token: string): Api {
    return new Api(this.baseUrl, token, this.inspect);
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.token : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.accept) headers.accept = options.accept;
    let body: string | undefined;
    if (options.body !== undefined) {
      const type = options.contentType ?? 'application/json';
      headers['content-type'] = type;
      body = typeof options.body === 'string' ? options.body : /yaml/.test(type) ? yaml.dump(options.body) : JSON.stringify(options.body);
    }
    const res = await fetch(this.baseUrl + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    assertNoSecretIn(text, `the answer to ${method} ${path}`);
    const answer = { status: res.status, headers: res.headers, text, body: parseBody(text, res.headers.get('content-type')) };
    this.inspect?.(method, path, answer);
    return answer;
  }

  get = (path: string, options?: RequestOptions) => this.request('GET', path, options);
  post = (path: string, body?: unknown, options?: RequestOptions) => this.request('POST', path, { ...options, body });
  put = (path: string, body?: unknown, options?: RequestOptions) => this.request('PUT', path, { ...options, body });
  patch = (path: string, body?: unknown, options?: RequestOptions) => this.request('PATCH', path, { ...options, body });
  delete = (path: string, options?: RequestOptions) => this.request('DELETE', path, options);
}

/** The first error message of an API error body. */
export const errorMessage = (res: ApiResponse): string =>
  String((res.body as { errors?: { 'error-message'?: string }[] } | undefined)?.errors?.[0]?.['error-message'] ?? '');
