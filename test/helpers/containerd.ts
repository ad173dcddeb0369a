// A real container runtime for tests: Debian's containerd (1.6) started as root with a configuration of its own --
// root, state and sockets in a fresh temporary directory, the CRI plugin off -- and its `ctr` client. Images are
// unpacked with the native snapshotter, which needs no kernel module.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

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
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => (log = (log + chunk).slice(-20_000)));
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    });
    child.once('error', (error) => {
      exited = `could not start: ${error.message}`;
      resolve();
    });
  });
  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      await Promise.race([exit, sleep(10_000)]);
      if (exited === undefined) {
        child.kill('SIGKILL');
        await exit;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const ctr = (namespace: string, args: string[], timeoutMs = 120_000) => run('ctr', ['--address', address, '-n', namespace, ...args], timeoutMs);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`containerd ${exited}\n${log}`);
    }
    if ((await ctr('default', ['version'], 5_000)).code === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not answer on ${address}\n${log}`);
    }
    await sleep(100);
  }
  return { address, dir, ctr, log: () => log, stop };
}
