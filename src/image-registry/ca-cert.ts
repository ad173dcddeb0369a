// A `ca-cert` value must be one or more PEM certificates that parse as X.509 (nothing else between them).
import { createHash, X509Certificate } from 'node:crypto';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;

/**
 * Certificates that parsed before, by the hash of their PEM block. Parsing is about 0.25 ms a certificate, so a CA
 * bundle of a few hundred costs tens of milliseconds on the event loop; a PUT or PATCH of a registry whose bundle did
 * not change (every PATCH checks the whole entry) then costs nothing. Forgotten wholesale past its bound.
 */
const parsed = new Set<string>();
const MAX_REMEMBERED = 4096;

function parses(block: string): boolean {
  const key = createHash('sha256').update(block).digest('base64');
  if (parsed.has(key)) return true;
  try {
    new X509Certificate(block);
  } catch {
    return false;
  }
  if (parsed.size >= MAX_REMEMBERED) parsed.clear();
  parsed.add(key);
  return true;
}

/** Why `pem` is not a bundle of certificates, or undefined when every block parses. */
export function caCertProblem(pem: string): string | undefined {
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) return 'does not contain a PEM certificate (-----BEGIN CERTIFICATE-----)';
  const leftover = pem.replace(PEM_BLOCK, '').trim();
  if (leftover !== '') return 'contains text that is not a PEM certificate';
  for (const [index, block] of blocks.entries()) {
    if (!parses(block[0])) return `certificate ${index + 1} does not parse as an X.509 certificate`;
  }
  return undefined;
}
