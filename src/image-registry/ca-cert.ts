// A `ca-cert` value must be one or more PEM certificates that parse as X.509 (nothing else between them).
import { X509Certificate } from 'node:crypto';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;

/** Why `pem` is not a bundle of certificates, or undefined when every block parses. */
export function caCertProblem(pem: string): string | undefined {
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) return 'does not contain a PEM certificate (-----BEGIN CERTIFICATE-----)';
  const leftover = pem.replace(PEM_BLOCK, '').trim();
  if (leftover !== '') return 'contains text that is not a PEM certificate';
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block[0]);
    } catch {
      return `certificate ${index + 1} does not parse as an X.509 certificate`;
    }
  }
  return undefined;
}
