// A real etcd cluster for tests: Debian's `etcd` 3.4 members spawned on free loopback ports, each in its own temp
// data dir, optionally behind TLS; waits for a leader, kills (SIGKILL) and restarts members, and cleans up in stop().
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';
import type { CertificateAuthority, ServerCertificate } from './tls.js';

/** TLS on the client URLs (peers stay on plain loopback HTTP: Berth never talks to them). */
export interface EtcdTls {
  ca: CertificateAuthority;
  /** The members' certificate; it must name 127.0.0.1. */
  server: ServerCertificate;
  /** Require client certificates signed by `ca` (etcd's --client-cert-auth); `client` is what this helper presents. */
  client?: ClientCertificate;
}

export interface ClientCertificate {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

export interface EtcdMember {
  name: string;
  /** `http://127.0.0.1:PORT`, where clients (Berth, etcdctl) connect. */
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  /** Whether the member's process is running (false after kill() until restart()). */
  readonly running: boolean;
  /** What the member wrote to stdout and stderr (its last 64 KiB), for failure messages. */
  output(): string;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's client URL, in member order. */
  endpoints: string[];
  /** `BERTH_ETCD_ENDPOINTS` for all members. */
  endpointList: string;
  /** The index of the member that is leader now, as the running members report it. */
  leader(): Promise<number>;
  /** Resolves once a running member reports a leader and serves reads (GET /health). */
  waitForLeader(): Promise<void>;
  /** SIGKILL one member (no chance to step down or flush anything) and wait until it is gone. */
  kill(index: number): Promise<void>;
  /** Start a killed member again on the same ports and data dir; it rejoins the cluster. */
  restart(index: number): Promise<void>;
  /** Kills every member and removes the data dirs; safe to call twice. */
  stop(): Promise<void>;
}

/** Members of a fresh cluster elect a leader in about 2 s here; this is the bound for a slow, loaded machine. */
const READY_TIMEOUT_MS = 60_000;
const OUTPUT_LIMIT = 64 * 1024;

interface MemberState extends EtcdMember {
  process: ChildProcess | undefined;
  log: string;
  exited: Promise<void>;
  args: string[];
}

/** Every process started here, so a test run that dies without stop() leaves no etcd behind. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function launch(member: MemberState): void {
  const child = spawn('etcd', member.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  member.process = child;
  const collect = (chunk: Buffer) => {
    member.log = (member.log + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  member.exited = new Promise((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      if (member.process === child) member.process = undefined;
      resolve();
    });
    child.once('error', (error) => {
      member.log += `\nspawn failed: ${error.message}`;
      live.delete(child);
      if (member.process === child) member.process = undefined;
      resolve();
    });
  });
}

/** One HTTP(S) request to a member's client URL (etcd 3.4 serves /health and a JSON gateway beside gRPC). */
function call(url: string, tls: EtcdTls | undefined, method: 'GET' | 'POST', body?: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const options = {
      method,
      timeout: 2_000,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(tls ? { ca: tls.ca.certPem, ...(tls.client ? { cert: tls.client.certPem, key: tls.client.keyPem } : {}) } : {}),
    };
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, options, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as unknown });
        } catch (error) {
          reject(error as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** True when the member answers GET /health with a leader. */
async function healthy(member: EtcdMember, tls: EtcdTls | undefined): Promise<boolean> {
  try {
    const { status, json } = await call(`${member.clientUrl}/health`, tls, 'GET');
    return status === 200 && (json as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/**
 * A client certificate (extendedKeyUsage clientAuth, which etcd's --client-cert-auth checks) signed by `ca`, made
 * with the real `openssl` like the ones in tls.ts.
 */
export function issueClientCertificate(ca: CertificateAuthority, name: string): ClientCertificate {
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: ca.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const ext = join(ca.dir, `${name}.ext`);
  writeFileSync(ext, 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '3', '-extfile', ext]);
  const certPath = join(ca.dir, `${name}.crt`);
  const keyPath = join(ca.dir, `${name}.key`);
  return { certPath, keyPath, certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
}

async function startOnce(size: number, tls: EtcdTls | undefined, extraArgs: string[]): Promise<EtcdCluster> {
  const root = mkdtempSync(join(tmpdir(), 'berth-etcd-'));
  const ports = await Promise.all(Array.from({ length: size * 2 }, () => freePort()));
  const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  const peerUrls = names.map((_, i) => `http://127.0.0.1:${ports[size + i]}`);
  const initialCluster = names.map((name, i) => `${name}=${peerUrls[i]}`).join(',');
  const members: MemberState[] = names.map((name, i) => {
    const clientUrl = `${tls ? 'https' : 'http'}://127.0.0.1:${ports[i]}`;
    const dataDir = join(root, name);
    const member: MemberState = {
      name,
      clientUrl,
      peerUrl: peerUrls[i]!,
      dataDir,
      process: undefined,
      log: '',
      exited: Promise.resolve(),
      get running() {
        return member.process !== undefined;
      },
      output: () => member.log,
      args: [
        '--name', name,
        '--data-dir', dataDir,
        '--listen-client-urls', clientUrl,
        '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrls[i]!,
        '--initial-advertise-peer-urls', peerUrls[i]!,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        // A token unique to this cluster: members of two test clusters can never join each other by a reused port.
        '--initial-cluster-token', `berth-test-${root.slice(-6)}`,
        '--logger', 'zap',
        '--log-level', 'warn',
        ...(tls ? ['--cert-file', tls.server.certPath, '--key-file', tls.server.keyPath, '--trusted-ca-file', tls.ca.certPath] : []),
        ...(tls?.client ? ['--client-cert-auth'] : []),
        ...extraArgs,
      ],
    };
    return member;
  });

  let stopped = false;
  const describe = () => members.map((m) => `--- ${m.name} (${m.running ? 'running' : 'not running'}):\n${m.log.slice(-4_000)}`).join('\n');
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    endpointList: members.map((m) => m.clientUrl).join(','),
    async leader() {
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (Date.now() < deadline) {
        for (const [index, member] of members.entries()) {
          if (!member.running) continue;
          try {
            const { json } = await call(`${member.clientUrl}/v3/maintenance/status`, tls, 'POST', '{}');
            const status = json as { header?: { member_id?: string }; leader?: string };
            if (status.leader && status.leader !== '0' && status.leader === status.header?.member_id) return index;
          } catch {
            // Not answering (yet): ask the next one.
          }
        }
        await sleep(50);
      }
      throw new Error(`no etcd member says it is the leader:\n${describe()}`);
    },    async waitForLeader() {
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (Date.now() < deadline) {
        const running = members.filter((m) => m.running);
        if (running.length === 0) throw new Error(`no etcd member is running:\n${describe()}`);
        if ((await Promise.all(running.map((m) => healthy(m, tls)))).some(Boolean)) return;
        await sleep(50);
      }
      throw new Error(`etcd elected no leader within ${READY_TIMEOUT_MS / 1000} s:\n${describe()}`);
    },
    async kill(index) {
      const member = members[index];
      if (!member?.process) throw new Error(`etcd member ${index} is not running`);
      member.process.kill('SIGKILL');
      await member.exited;
    },
    async restart(index) {
      const member = members[index];
      if (!member) throw new Error(`no etcd member ${index}`);
      if (member.running) throw new Error(`etcd member ${member.name} is still running`);
      // With a data dir, etcd ignores the --initial-* flags and rejoins with the membership it stored.
      launch(member);
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (!(await healthy(member, tls))) {
        if (!member.running) throw new Error(`etcd member ${member.name} exited on restart:\n${member.log.slice(-4_000)}`);
        if (Date.now() > deadline) throw new Error(`etcd member ${member.name} did not rejoin within ${READY_TIMEOUT_MS / 1000} s`);
        await sleep(50);
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const member of members) member.process?.kill('SIGKILL');
      await Promise.all(members.map((m) => m.exited));
      rmSync(root, { recursive: true, force: true });
    },
  };

  for (const member of members) launch(member);
  try {
    await cluster.waitForLeader();
    // Two members make a quorum of three: a third that died on start (a port taken meanwhile) must not go unnoticed.
    const dead = members.find((m) => !m.running);
    if (dead) throw new Error(`etcd member ${dead.name} exited on start:\n${dead.log.slice(-4_000)}`);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/**
 * Starts a cluster of `members` (3 unless told) and waits for its leader. The ports are free when chosen but etcd
 * binds them later, so a start that loses a port to another process is tried again on new ports.
 */
export async function startEtcdCluster(options: { members?: number; tls?: EtcdTls; extraArgs?: string[] } = {}): Promise<EtcdCluster> {
  const size = options.members ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(size, options.tls, options.extraArgs ?? []);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(String(error))) throw error;
    }
  }
}
