// Watches for leaked secrets across a whole test run: every registry secret a test writes to the secret store is
// registered here, and every Berth response (test/helpers/api.ts) and every Berth process's whole output
// (test/helpers/berth.ts, when it stops) is checked for each registered value.
import assert from 'node:assert/strict';
import vault from 'node-vault';

const secretValues = new Set<string>();

/** Secret values shorter than this are too likely to occur by chance (tests use long random ones). */
const MIN_WATCHED_LENGTH = 8;

export function registerSecretValue(value: string): void {
  if (value.length < MIN_WATCHED_LENGTH) throw new Error(`test secret '${value.slice(0, 2)}…' is too short to watch for leaks`);
  secretValues.add(value);
}

/** Fails when `text` contains any registered secret value (or its base64 form). */
export function assertNoSecretIn(text: string, where: string): void {
  for (const value of secretValues) {
    const forms = [value, Buffer.from(value).toString('base64')];
    for (const form of forms) assert.ok(!text.includes(form), `a secret value leaked into ${where}`);
  }
}

/** A node-vault client for tests (LIST sent as GET ?list=true, which vault-dev and Vault both accept). */
export function vaultClient(addr: string, token: string): vault.client {
  return vault({ apiVersion: 'v1', endpoint: addr, token, noCustomHTTPVerbs: true } as vault.VaultOptions);
}

/** Writes a KV v2 secret and registers every value in it but the user name as a secret to watch for. */
export async function writeRegistrySecret(client: vault.client, mount: string, path: string, data: Record<string, string>): Promise<void> {
  for (const [key, value] of Object.entries(data)) if (key !== 'username') registerSecretValue(value);
  await client.write(`${mount}/data/${path}`, { data });
}

/** A random secret value that is easy to recognise in a leak report. */
export const randomSecret = (label: string) => `${label}-s3cr3t-${Math.random().toString(36).slice(2, 12)}`;
