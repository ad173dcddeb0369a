// A real remote registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) spawned as a child process
// with a generated config.yml, always over TLS with a test CA, with htpasswd auth, token auth or no auth.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchProcess } from './watched-process.js';
import yaml from 'js-yaml';
import { freePort } from './free-port.js';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from './tls.js';

export type RegistryAuth =
  | { kind: 'none' }
  /** Users and their passwords; htpasswd gives every authenticated user full access. */
  | { kind: 'htpasswd'; users: Record<string, string> }
  /** Docker token auth: the registry trusts JWTs signed by a certificate chaining to `rootCertBundlePem`. */
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundlePem: string };

export interface StartRegistryOptions {
  auth: RegistryAuth;
  /** The CA that signs the registry's server certificate; a new one when absent (removed again by stop()). */
  ca?: CertificateAuthority;
}

export interface RunningRegistry {
  /** `127.0.0.1:PORT`, the way Berth's remote-registry `address` is written. */
  address: string;
  port: number;
  /** The CA certificate that verifies the registry's server certificate. */
  caCertPem: string;
  ca: CertificateAuthority;
  /** Root of the filesystem storage driver. */
  storageDir: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;

function htpasswdFile(users: Record<string, string>): string {
  // `-B` bcrypt is the only scheme docker-registry accepts; `-n` prints instead of writing a file.
  return Object.entries(users)
    .map(([user, password]) => execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim())
    .join('\n')
    .concat('\n');
}

/** One HTTPS GET of /v2/ trusting the test CA; resolves with the status, or undefined while nothing listens. */
function probe(port: number, caCertPem: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/', method: 'GET', ca: caCertPem, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.headers['docker-distribution-api-version'] === 'registry/2.0' ? res.statusCode : undefined);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Starts docker-registry on a free 127.0.0.1 port and waits until it answers /v2/. */
export async function startDockerRegistry(options: StartRegistryOptions): Promise<RunningRegistry> {
  const ownCa = options.ca === undefined;
  const ca = options.ca ?? createCertificateAuthority('Berth Registry Test CA');
  const removeOwnCa = () => {
    if (ownCa) rmSync(ca.dir, { recursive: true, force: true });
  };
  // The port is free when asked but docker-registry binds it later; another process may take it in between.
  for (let attempt = 1; ; attempt++) {
    try {
      const running = await launch(ca, options.auth, await freePort());
      return {
        ...running,
        stop: async () => {
          await running.stop();
          removeOwnCa();
        },
      };
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTakenError)) {
        removeOwnCa();
        throw error;
      }
    }
  }
}

class PortTakenError extends Error {}

async function launch(ca: CertificateAuthority, auth: RegistryAuth, port: number): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-registry-'));
  const storageDir = join(dir, 'storage');
  const cert = issueServerCertificate(ca, `registry-${port}`);

  let authConfig: Record<string, unknown> | undefined;
  switch (auth.kind) {
    case 'none':
      break;
    case 'htpasswd':
      writeFileSync(join(dir, 'htpasswd'), htpasswdFile(auth.users));
      authConfig = { htpasswd: { realm: 'berth-test-registry', path: join(dir, 'htpasswd') } };
      break;
    case 'token':
      writeFileSync(join(dir, 'token-roots.pem'), auth.rootCertBundlePem);
      authConfig = {
        token: { realm: auth.realm, service: auth.service, issuer: auth.issuer, rootcertbundle: join(dir, 'token-roots.pem') },
      };
      break;
  }

  const config = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: storageDir },
      delete: { enabled: true },
      // Upload purging walks the storage on start-up; pointless for a throw-away registry.
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: randomBytes(24).toString('hex'),
      tls: { certificate: cert.certPath, key: cert.keyPath },
    },
    health: { storagedriver: { enabled: false } },
    ...(authConfig ? { auth: authConfig } : {}),
  };
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, yaml.dump(config));

  const child: ChildProcess = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  const watched = watchProcess(child, 8_000);
  const stop = async (): Promise<void> => {
    await watched.stop(5_000);
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (watched.ended() !== undefined) {
      await stop();
      const message = `docker-registry ${watched.ended()}\n${watched.log()}`;
      throw /address already in use/.test(watched.log()) ? new PortTakenError(message) : new Error(message);
    }
    if ((await probe(port, ca.certPem)) !== undefined) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer /v2/ on 127.0.0.1:${port}\n${watched.log()}`);
    }
    await sleep(50);
  }

  return { address: `127.0.0.1:${port}`, port, caCertPem: ca.certPem, ca, storageDir, stop };
}
