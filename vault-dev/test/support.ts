// Shared by vault-dev's tests: node-vault clients configured as Berth uses them, the status and
// body of a rejected node-vault call, and raw HTTP requests for what node-vault cannot express
// (a body given as text is sent as is: JSON too deep for JSON.stringify).

import assert from 'node:assert/strict';
import nodeVault from 'node-vault';

export type VaultClient = ReturnType<typeof nodeVault>;

/** node-vault as Berth configures it: `list()` sends `GET ?list=1`. */
export function vaultClient(addr: string, token?: string): VaultClient {
  return nodeVault({ endpoint: addr, noCustomHTTPVerbs: true, ...(token ? { token } : {}) });
}

export interface VaultFailure {
  statusCode: number;
  body: unknown;
}

/** Awaits a node-vault call that must fail; returns the HTTP status and body it failed with. */
export async function failure(call: Promise<unknown>): Promise<VaultFailure> {
  try {
    await call;
  } catch (err) {
    const response = (err as { response?: { statusCode?: unknown; body?: unknown } }).response;
    assert.ok(response && typeof response.statusCode === 'number', `not an HTTP failure: ${String(err)}`);
    return { statusCode: response.statusCode, body: response.body };
  }
  assert.fail('the call succeeded but was expected to fail');
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when there is none. */
  json: unknown;
}

export async function rawRequest(
  addr: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers['X-Vault-Token'] = options.token;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const response = await fetch(`${addr}/v1/${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: text ? JSON.parse(text) : undefined };
}

export const SEALED_BODY = { errors: ['Vault is sealed'] };
export const PERMISSION_DENIED_BODY = { errors: ['1 error occurred:\n\t* permission denied\n\n'] };
