// A real etcd cluster for tests: Debian's `etcd` 3.4 members spawned on free loopback ports, each in its own temp
// data dir; waits for a leader, kills (SIGKILL) and restarts members, and removes everything again in stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';

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

/** True when the member answers GET /health with a leader (etcd 3.4 serves HTTP on the client port too). */
async function healthy(member: EtcdMember): Promise<boolean> {
  try {
    const res = await fetch(`${member.clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

async function startOnce(size: number): Promise<EtcdCluster> {
  const root = mkdtempSync(join(tmpdir(), 'berth-etcd-'));
  const ports = await Promise.all(Array.from({ length: size * 2 }, () => freePort()));
  const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  const peerUrls = names.map((_, i) => `http://127.0.0.1:${ports[size + i]}`);
  const initialCluster = names.map((name, i) => `${name}=${peerUrls[i]}`).join(',');
  const members: MemberState[] = names.map((name, i) => {
    const clientUrl = `http://127.0.0.1:${ports[i]}`;
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
    async waitForLeader() {
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (Date.now() < deadline) {
        const running = members.filter((m) => m.running);
        if (running.length === 0) throw new Error(`no etcd member is running:\n${describe()}`);
        if ((await Promise.all(running.map(healthy))).some(Boolean)) return;
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
      while (!(await healthy(member))) {
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
export async function startEtcdCluster(options: { members?: number } = {}): Promise<EtcdCluster> {
  const size = options.members ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(size);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(String(error))) throw error;
    }
  }
}
