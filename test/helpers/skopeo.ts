// Runs the real Debian `skopeo` as a subprocess, as an independent OCI client of our registries, and builds the
// minimal OCI images (layout on disk) the registry tests feed it. A missing skopeo fails the test, never skips it.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface SkopeoResult {
  stdout: string;
  stderr: string;
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Options for a `docker://` side of a command: credentials, and TLS verification (false allows plain HTTP). */
export interface DockerTransportOptions {
  creds?: RegistryCredentials;
  tlsVerify?: boolean;
}

/**
 * Runs `skopeo <args>` and resolves with its output; rejects with an Error carrying stderr on a non-zero exit.
 * `--insecure-policy` spares tests from depending on /etc/containers/policy.json being present.
 */
export function runSkopeo(args: string[], timeoutMs = 120_000): Promise<SkopeoResult> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', ['--insecure-policy', ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`skopeo ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        return;
      }
      resolve({ stdout, stderr });
    });
  });
}

function transportFlags(side: 'src' | 'dest', options: DockerTransportOptions | undefined): string[] {
  if (!options) return [];
  const flags: string[] = [];
  if (options.tlsVerify !== undefined) flags.push(`--${side}-tls-verify=${options.tlsVerify}`);
  if (options.creds) flags.push(`--${side}-creds`, `${options.creds.username}:${options.creds.password}`);
  else flags.push(`--${side}-no-creds`);
  return flags;
}

export interface CopyOptions {
  /** Copy every image of an index (`--all`). */
  all?: boolean;
  src?: DockerTransportOptions;
  dest?: DockerTransportOptions;
  /** Extra flags, e.g. `--format v2s2` or `--override-arch arm64`. */
  extra?: string[];
}

export function skopeoCopy(source: string, destination: string, options: CopyOptions = {}): Promise<SkopeoResult> {
  return runSkopeo([
    'copy',
    ...(options.all ? ['--all'] : []),
    ...transportFlags('src', options.src),
    ...transportFlags('dest', options.dest),
    ...(options.extra ?? []),
    source,
    destination,
  ]);
}

/** `skopeo inspect --raw`: the manifest bytes exactly as the registry serves them. */
export async function skopeoInspectRaw(image: string, options: DockerTransportOptions = {}): Promise<Buffer> {
  const flags: string[] = [];
  if (options.tlsVerify !== undefined) flags.push(`--tls-verify=${options.tlsVerify}`);
  if (options.creds) flags.push('--creds', `${options.creds.username}:${options.creds.password}`);
  else flags.push('--no-creds');
  return new Promise((resolve, reject) => {
    execFile('skopeo', ['--insecure-policy', 'inspect', '--raw', ...flags, image], { encoding: 'buffer', timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`skopeo inspect --raw ${image} failed: ${error.message}\n${stderr.toString()}`));
      else resolve(stdout);
    });
  });
}

// ---- A minimal OCI image to feed skopeo: a gzip'd tar layer per platform, a config, a manifest, an index. ----
// (Richer images come from test/helpers/oci-images.ts; this one stays here so registry tests depend on nothing else.)

export interface TestBlob {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface TestPlatformImage {
  platform: { os: string; architecture: string; variant?: string };
  config: TestBlob;
  layers: TestBlob[];
  manifest: TestBlob;
}

export interface TestImage {
  images: TestPlatformImage[];
  index: TestBlob;
  /** Every blob, manifests and index included, by digest. */
  blobs: Map<string, TestBlob>;
}

const ociManifestType = 'application/vnd.oci.image.manifest.v1+json';
const ociIndexType = 'application/vnd.oci.image.index.v1+json';

export const sha256Digest = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

const blobOf = (mediaType: string, bytes: Buffer): TestBlob => ({ digest: sha256Digest(bytes), mediaType, bytes });
const descriptorOf = (b: TestBlob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.bytes.length });

/** A tar of the given files, as tar-stream writes it (fixed mtime so the bytes are reproducible). */
export async function tarOf(files: Record<string, Buffer | string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) {
    pack.entry({ name, mtime: new Date(0), mode: 0o644 }, Buffer.from(content));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** One image manifest (OCI) with a single gzip'd tar layer for `platform`. */
export async function buildPlatformImage(
  platform: TestPlatformImage['platform'],
  files: Record<string, Buffer | string> = { 'etc/berth-test': `built for ${platform.os}/${platform.architecture}\n` },
): Promise<TestPlatformImage> {
  const layerTar = await tarOf(files);
  const layer = blobOf('application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(layerTar));
  const config = blobOf('application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify({
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: [sha256Digest(layerTar)] },
  })));
  const manifest = blobOf(ociManifestType, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: ociManifestType,
    config: descriptorOf(config),
    layers: [descriptorOf(layer)],
  })));
  return { platform, config, layers: [layer], manifest };
}

/** A two-platform image (linux/amd64, linux/arm64/v8) behind an OCI index. */
export async function buildTestImage(
  platforms: Array<TestPlatformImage['platform']> = [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
): Promise<TestImage> {
  const images = await Promise.all(platforms.map((p) => buildPlatformImage(p)));
  const index = blobOf(ociIndexType, Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: ociIndexType,
    manifests: images.map((i) => ({ ...descriptorOf(i.manifest), platform: i.platform })),
  })));
  const blobs = new Map<string, TestBlob>();
  for (const b of [index, ...images.flatMap((i) => [i.manifest, i.config, ...i.layers])]) blobs.set(b.digest, b);
  return { images, index, blobs };
}

/** Writes `image` as an OCI layout at `dir` with its index tagged `tag` (for `oci:<dir>:<tag>`). */
export function writeOciLayout(dir: string, image: TestImage, tag: string): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const blob of image.blobs.values()) writeFileSync(join(dir, 'blobs', 'sha256', blob.digest.slice('sha256:'.length)), blob.bytes);
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: ociIndexType,
    manifests: [{ ...descriptorOf(image.index), annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
}

/** The descriptor an OCI layout's index.json gives for `tag`. */
export function readOciLayoutTag(dir: string, tag: string): { mediaType: string; digest: string; size: number } {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    manifests: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }>;
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`tag ${tag} not in ${dir}/index.json`);
  return entry;
}

/** Reads a blob of an OCI layout by digest. */
export const readOciLayoutBlob = (dir: string, digest: string): Buffer =>
  readFileSync(join(dir, 'blobs', ...digest.split(':')));
