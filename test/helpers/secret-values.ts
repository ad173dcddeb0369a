// Watches for leaked secrets across a whole test run: every registry secret a test writes to the secret store is
// registered here, and every Berth response (test/helpers/api.ts), every Berth process's whole output
// (test/helpers/berth.ts, when it stops) and every vault-dev's (test/helpers/vault-dev.ts) is checked for each
// registered value in every form a leak could take: as is, base64 and base64url (at any alignment, so inside a
// longer encoded text too), hex, percent-encoded and JSON-escaped; a user name and password also as the
// `user:password` of HTTP Basic auth in each of those forms.
import assert from 'node:assert/strict';
import vault from 'node-vault';

/** Each registered value and the forms it is searched in. */
const watched = new Map<string, string[]>();

/** Secret values shorter than this are too likely to occur by chance (tests use long random ones). */
const MIN_WATCHED_LENGTH = 8;

/**
 * The base64 text of `value` wherever it sits in a longer encoded text: base64 maps 3 bytes to 4 characters, so
 * the characters that encode the value depend on its offset modulo 3. For each offset, the characters that the
 * value's bytes alone determine.
 */
function base64Forms(value: Buffer, alphabet: 'base64' | 'base64url'): string[] {
  return [0, 1, 2].map((shift) => {
    const encoded = Buffer.concat([Buffer.alloc(shift), value]).toString(alphabet);
    const first = Math.ceil((shift * 8) / 6);
    const last = Math.floor(((shift + value.length) * 8) / 6);
    return encoded.slice(first, last);
  });
}

function formsOf(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms = new Set([
    value,
    ...base64Forms(bytes, 'base64'),
    ...base64Forms(bytes, 'base64url'),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
  ]);
  return [...forms];
}

export function registerSecretValue(value: string): void {
  if (value.length < MIN_WATCHED_LENGTH) throw new Error(`test secret '${value.slice(0, 2)}…' is too short to watch for leaks`);
  if (!watched.has(value)) watched.set(value, formsOf(value));
}

/** A user name and password: the password, and `user:password` as HTTP Basic auth carries it (base64 and all). */
export function registerBasicCredential(username: string, password: string): void {
  registerSecretValue(password);
  registerSecretValue(`${username}:${password}`);
}

/** Fails when `text` contains any registered secret value, in any of its forms. */
export function assertNoSecretIn(text: string, where: string): void {
  for (const [value, forms] of watched) {
    for (const form of forms) {
      if (text.includes(form)) assert.fail(`a secret value leaked into ${where} (${form === value ? 'as is' : 'encoded'})`);
    }
  }
}

/** A node-vault client for tests (LIST sent as GET ?list=true, which vault-dev and Vault both accept). */
export function vaultClient(addr: string, token: string): vault.client {
  return vault({ apiVersion: 'v1', endpoint: addr, token, noCustomHTTPVerbs: true } as vault.VaultOptions);
}

/** Writes a KV v2 secret and registers every value in it but the user name, and the Basic form of user and password. */
export async function writeRegistrySecret(client: vault.client, mount: string, path: string, data: Record<string, string>): Promise<void> {
  for (const [key, value] of Object.entries(data)) if (key !== 'username') registerSecretValue(value);
  if (data.username !== undefined && data.password !== undefined) registerBasicCredential(data.username, data.password);
  await client.write(`${mount}/data/${path}`, { data });
}

/** A random secret value that is easy to recognise in a leak report. */
export const randomSecret = (label: string) => `${label}-s3cr3t-${Math.random().toString(36).slice(2, 12)}`;
