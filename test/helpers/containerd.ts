// A real container runtime for tests: Debian's containerd (1.6) started as root with a configuration of its own --
// root, state and sockets in a fresh temporary directory, the CRI plugin off -- and its `ctr` client. Images are
// unpacked with the native snapshotter, which needs no kernel module.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchProcess } from './watched-process.js';

export interface CtrResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunningContainerd {
  /** The gRPC socket (`ctr --address`). */
  address: string;
  dir: string;
  /** Runs `ctr --address ... -n <namespace> <args>`; never throws for a non-zero exit. */
  ctr(namespace: string, args: string[], timeoutMs?: number): Promise<CtrResult>;
  /** What containerd logged so far (bounded). */
  log(): string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

function run(command: string, args: string[], timeoutMs: number): Promise<CtrResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (error && typeof error.code !== 'number' ? String(error.message) : '') });
    });
  });
}

export async function startContainerd(): Promise<RunningContainerd> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ctrd-'));
  const address = join(dir, 'containerd.sock');
  const config = `version = 2
root = "${join(dir, 'root')}"
state = "${join(dir, 'state')}"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "${address}"
[ttrpc]
  address = "${join(dir, 'containerd-ttrpc.sock')}"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, 'opt')}"
`;
  writeFileSync(join(dir, 'config.toml'), config);
  const child: ChildProcess = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  const watched = watchProcess(child, 20_000);
  const stop = async () => {
    await watched.stop(10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const ctr = (namespace: string, args: string[], timeoutMs = 120_000) => run('ctr', ['--address', address, '-n', namespace, ...args], timeoutMs);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (watched.ended() !== undefined) {
      await stop();
      throw new Error(`containerd ${watched.ended()}\n${watched.log()}`);
    }
    if ((await ctr('default', ['version'], 5_000)).code === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not answer on ${address}\n${watched.log()}`);
    }
    await sleep(100);
  }
  return { address, dir, ctr, log: watched.log, stop };
}
