// Crash safety of the site registry: a child process writing into the store is killed with SIGKILL, then the
// store is reopened. No half-written blob may be visible, and whatever the child saw acknowledged must be there.
// The same file is the child: run with BERTH_REGISTRY_CRASH_CHILD set, it does the writing instead of testing.
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSiteRegistry, type SiteRegistry } from '../../src/registry/index.js';
import { filesUnder } from '../helpers/files.js';

const MiB = 1024 * 1024;
const ociManifest = 'application/vnd.oci.image.manifest.v1+json';

/** A deterministic pseudo-random byte stream (AES-CTR keystream): fast, and the parent can recompute its digest. */
async function* prngStream(seed: string, size: number, chunkSize = MiB): AsyncGenerator<Buffer> {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(chunkSize);
  for (let sent = 0; sent < size; sent += chunkSize) {
    yield cipher.update(zeros.subarray(0, Math.min(chunkSize, size - sent)));
  }
}

async function prngDigest(seed: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of prngStream(seed, size)) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// ---------------------------------------------------------------- child side

async function runChild(mode: string): Promise<void> {
  const dataDir = process.env.BERTH_REGISTRY_DATA_DIR!;
  const registry = await createSiteRegistry({ dataDir });
  // Keeps the event loop alive while the child waits to be killed.
  setInterval(() => {}, 60_000);
  if (mode === 'ingest') {
    const { seed, size, pauseAt, digest } = JSON.parse(process.env.BERTH_REGISTRY_CRASH_ARGS!) as { seed: string; size: number; pauseAt: number; digest: string };
    const writer = await registry.blobs.openWriter({ expectedDigest: digest, expectedSize: size });
    let written = 0;
    for await (const chunk of prngStream(seed, size)) {
      await writer.write(chunk);
      written += chunk.length;
      if (written >= pauseAt) break;
    }
    // Half the blob is in the staging file and the writer is open: the parent kills us here.
    process.stdout.write(`half-written ${writer.offset}\n`);
    return;
  }
  if (mode === 'push-loop') {
    for (let i = 0; ; i++) {
      const chunks: Buffer[] = [];
      for await (const chunk of prngStream(`layer-${i}`, 256 * 1024, 64 * 1024)) chunks.push(chunk);
      const layer = Buffer.concat(chunks);
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, n: i }));
      await registry.blobs.ingest(sha256(layer), layer.length, [layer]);
      await registry.blobs.ingest(sha256(config), config.length, [config]);
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: ociManifest,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
      }));
      const result = await registry.putManifest('crash/loop', `t${i}`, ociManifest, manifest);
      process.stdout.write(`acked t${i} ${result.digest}\n`);
    }
  }
  throw new Error(`unknown child mode ${mode}`);
}

// ---------------------------------------------------------------- parent side

function startChild(mode: string, dataDir: string, args: Record<string, unknown> = {}): ChildProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BERTH_REGISTRY_CRASH_CHILD: mode,
    BERTH_REGISTRY_DATA_DIR: dataDir,
    BERTH_REGISTRY_CRASH_ARGS: JSON.stringify(args),
  };
  // Otherwise the child's node:test would think it reports to this runner.
  delete env.NODE_TEST_CONTEXT;
  return spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Resolves with the lines read until `done` says stop; rejects if the child exits first. */
function readLinesUntil(child: ChildProcess, done: (lines: string[]) => boolean): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const reader = createInterface({ input: child.stdout! });
    const onExit = (code: number | null) => reject(new Error(`child exited (${code}) after ${lines.length} lines`));
    child.once('exit', onExit);
    reader.on('line', (line) => {
      lines.push(line);
      if (done(lines)) {
        child.off('exit', onExit);
        reader.close();
        resolve(lines);
      }
    });
  });
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  const [code, signal] = (await exited) as [number | null, string | null];
  assert.equal(signal, 'SIGKILL', `child ended by ${signal ?? `exit ${code}`}, not by the kill`);
}

if (process.env.BERTH_REGISTRY_CRASH_CHILD) {
  await runChild(process.env.BERTH_REGISTRY_CRASH_CHILD);
} else {
  describe('site registry crash safety (SIGKILL)', () => {
    const dirs: string[] = [];
    const children: ChildProcess[] = [];
    const opened: SiteRegistry[] = [];
    const newDataDir = () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-registry-crash-'));
      dirs.push(dir);
      return dir;
    };

    after(async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const registry of opened) await registry.close().catch(() => {});
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it('leaves no blob visible after a kill mid-ingest of 200 MB, and the same ingest then succeeds', async () => {
      const dataDir = newDataDir();
      const seed = 'crash-ingest';
      const size = 200 * MiB;
      const digest = await prngDigest(seed, size);
      const child = startChild('ingest', dataDir, { seed, size, pauseAt: 96 * MiB, digest });
      children.push(child);
      const [line] = await readLinesUntil(child, (lines) => lines.length === 1);
      assert.match(line!, /^half-written \d+$/);
      await kill(child);

      // The kill left a staging file (proof it happened mid-way) and nothing under blobs/.
      const staging = filesUnder(join(dataDir, 'uploads'));
      assert.equal(staging.length, 1);
      assert.ok(statSync(staging[0]!).size >= 96 * MiB);
      assert.deepEqual(filesUnder(join(dataDir, 'blobs')), []);

      const registry = await createSiteRegistry({ dataDir });
      opened.push(registry);
      assert.equal(await registry.blobs.has(digest), false);
      assert.deepEqual(filesUnder(join(dataDir, 'uploads')), [], 'start-up removes stale staging files');
      assert.deepEqual(filesUnder(join(dataDir, 'blobs')), []);

      const info = await registry.blobs.ingest(digest, size, prngStream(seed, size));
      assert.equal(info.digest, digest);
      assert.equal(info.size, size);
      const hex = digest.slice('sha256:'.length);
      assert.deepEqual(filesUnder(join(dataDir, 'blobs')), [join(dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex)]);
    });

    it('keeps every acknowledged manifest and tag, and only whole blobs, after a kill during a push loop', async () => {
      const dataDir = newDataDir();
      const child = startChild('push-loop', dataDir);
      children.push(child);
      const lines = await readLinesUntil(child, (l) => l.length >= 12);
      // The child keeps pushing while the kill is delivered, so it may die anywhere in a commit.
      await kill(child);

      const acked = lines.map((l) => /^acked (\S+) (\S+)$/.exec(l)!).map((m) => ({ tag: m[1]!, digest: m[2]! }));
      const registry = await createSiteRegistry({ dataDir });
      opened.push(registry);
      for (const { tag, digest } of acked) {
        const manifest = await registry.getManifest('crash/loop', tag);
        assert.equal(manifest.digest, digest, tag);
        assert.equal(sha256(manifest.bytes), digest);
      }
      const repository = await registry.getRepository('crash/loop');
      assert.ok(repository.tags.length >= acked.length);
      for (const t of repository.tags) assert.deepEqual(t.platforms, ['linux/amd64']);
      // Whatever is under blobs/ is whole: each file hashes to its own name.
      for (const file of filesUnder(join(dataDir, 'blobs'))) {
        assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), file.split('/').at(-1), file);
      }
      assert.deepEqual(filesUnder(join(dataDir, 'uploads')), []);
    });
  });
}
