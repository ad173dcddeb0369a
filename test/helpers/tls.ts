// Test certificates made with the real `openssl` command: a throw-away CA and server certificates it signs,
// so TLS in tests is checked exactly as in production (no verification switched off).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertificateAuthority {
  dir: string;
  certPath: string;
  keyPath: string;
  certPem: string;
}

export interface ServerCertificate {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

/** A new CA in a fresh temporary directory. `keyType` 'rsa' is for signers that need RS256 (token auth). */
export function createCertificateAuthority(name = 'Berth Test CA', keyType: 'ec' | 'rsa' = 'ec'): CertificateAuthority {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ca-'));
  const keyArgs = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
  openssl(
    ['req', '-x509', ...keyArgs, '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'],
    dir,
  );
  const certPath = join(dir, 'ca.crt');
  return { dir, certPath, keyPath: join(dir, 'ca.key'), certPem: readFileSync(certPath, 'utf8') };
}

/** A server certificate for `hosts` (DNS names or IP addresses) signed by `ca`. */
export function issueServerCertificate(
  ca: CertificateAuthority,
  name: string,
  hosts: string[] = ['localhost', '127.0.0.1', '::1'],
): ServerCertificate {
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  const ext = join(ca.dir, `${name}.ext`);
  writeFileSync(ext, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.csr`, '-subj', `/CN=${hosts[0]}`], ca.dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '3', '-extfile', ext], ca.dir);
  const certPath = join(ca.dir, `${name}.crt`);
  const keyPath = join(ca.dir, `${name}.key`);
  return { certPath, keyPath, certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
}
