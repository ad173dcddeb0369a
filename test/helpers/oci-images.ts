// Test images built for real: OCI image layouts on disk with gzip'd tar layers, image configs, manifests and a
// multi-platform index, deterministic per seed; pushed to a registry with `skopeo` or, for many tags, its API.
import { execFile } from 'node:child_process';
import { createCipheriv, createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { Agent, request } from 'undici';

const execFileAsync = promisify(execFile);

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const IN_TOTO = 'application/vnd.in-toto+json';

/** A fixed timestamp so that tar headers and image configs, hence digests, depend on the seed only. */
const FIXED_TIME = new Date('2024-01-01T00:00:00Z');

export interface TestPlatform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface BuiltBlob {
  digest: string;
  size: number;
  mediaType: string;
  /** Where the blob lies in the layout (`blobs/sha256/...`). */
  path: string;
}

export interface BuiltLayer extends BuiltBlob {
  /** sha256 of the uncompressed tar, as listed in the config's `rootfs.diff_ids`. */
  diffId: string;
}

export interface BuiltManifest {
  digest: string;
  size: number;
  mediaType: string;
  bytes: Buffer;
  platform: TestPlatform;
  annotations?: Record<string, string>;
  config: BuiltBlob;
  layers: BuiltLayer[];
}

export interface BuiltImage {
  /** The OCI image layout directory (`oci-layout`, `index.json`, `blobs/`). */
  layoutDir: string;
  /** The `org.opencontainers.image.ref.name` in the layout, what `oci:DIR:TAG` names. */
  layoutTag: string;
  /** Digest, media type and bytes of the top-level object: the index, or the manifest of a single-platform image. */
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** Platform manifests in index order (the attestation manifest included); one for a single-platform image. */
  manifests: BuiltManifest[];
  /** The attestation manifest of a multi-platform image. */
  attestation?: BuiltManifest;
  /** Deletes the layout directory. */
  remove(): void;
}

export interface ImageSpec {
  /** Same seed, same bytes, same digests. */
  seed: string;
  /** Size in bytes of the random file inside each layer's tar (incompressible). Default: two layers, 2 KiB and 8 KiB. */
  layerSizes?: number[];
  /**
   * zlib level for the layers. Default 0: random content does not compress anyway, and level 0 (stored deflate
   * blocks, still a real gzip stream) builds about 100 MB/s against about 33 MB/s at level 1.
   */
  gzipLevel?: number;
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Seeded incompressible bytes, fast: AES-256-CTR over zeros with a key derived from the seed (about 1 GB/s). */
function* randomChunks(seed: string, size: number): Generator<Buffer> {
  const key = createHash('sha256').update(`berth-test-content:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  for (let left = size; left > 0; left -= zeros.length) {
    yield cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
  }
}

/** A pass-through that hashes what flows through it. */
class HashingStream extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

class OciLayout {
  readonly blobsDir: string;
  constructor(readonly dir: string) {
    this.blobsDir = join(dir, 'blobs', 'sha256');
    mkdirSync(this.blobsDir, { recursive: true });
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  blobPath(digest: string): string {
    return join(this.blobsDir, digest.slice('sha256:'.length));
  }

  writeBlob(bytes: Buffer, mediaType: string): BuiltBlob {
    const digest = sha256(bytes);
    const path = this.blobPath(digest);
    writeFileSync(path, bytes);
    return { digest, size: bytes.length, mediaType, path };
  }

  writeJson(value: unknown, mediaType: string): BuiltBlob & { bytes: Buffer } {
    const bytes = Buffer.from(JSON.stringify(value));
    return { ...this.writeBlob(bytes, mediaType), bytes };
  }

  /** A gzip'd tar with one random file of `size` bytes, streamed to disk so 1 GB layers never sit in memory. */
  async writeRandomLayer(seed: string, size: number, gzipLevel: number): Promise<BuiltLayer> {
    const pack = tar.pack();
    const uncompressed = new HashingStream();
    const compressed = new HashingStream();
    const temporary = join(this.dir, `layer-${process.pid}-${Math.random().toString(36).slice(2)}.tmp`);
    const written = pipeline(pack, uncompressed, createGzip({ level: gzipLevel }), compressed, createWriteStream(temporary));
    const header = { name: `berth-test/${seed}.bin`, size, mtime: FIXED_TIME, mode: 0o644, uid: 0, gid: 0, type: 'file' as const };
    const entry = pack.entry(header);
    await pipeline(randomChunks(seed, size), entry);
    pack.finalize();
    await written;
    const digest = `sha256:${compressed.hash.digest('hex')}`;
    const path = this.blobPath(digest);
    renameSync(temporary, path);
    return { digest, size: compressed.bytes, mediaType: OCI_LAYER_GZIP, path, diffId: `sha256:${uncompressed.hash.digest('hex')}` };
  }

  writeIndexJson(top: { digest: string; size: number; mediaType: string }, tag: string): void {
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    };
    writeFileSync(join(this.dir, 'index.json'), JSON.stringify(index));
  }
}

const descriptor = (blob: { mediaType: string; digest: string; size: number }) => ({
  mediaType: blob.mediaType,
  digest: blob.digest,
  size: blob.size,
});

async function writePlatformManifest(
  layout: OciLayout,
  seed: string,
  platform: TestPlatform,
  layerSizes: number[],
  gzipLevel: number,
): Promise<BuiltManifest> {
  const platformName = [platform.os, platform.architecture, platform.variant].filter(Boolean).join('-');
  const layers: BuiltLayer[] = [];
  for (const [i, size] of layerSizes.entries()) {
    layers.push(await layout.writeRandomLayer(`${seed}-${platformName}-layer${i}`, size, gzipLevel));
  }
  const config = layout.writeJson(
    {
      created: FIXED_TIME.toISOString(),
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/bin/true'], Labels: { 'org.example.seed': seed } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created: FIXED_TIME.toISOString(), created_by: 'berth test image builder' })),
    },
    OCI_CONFIG,
  );
  const manifest = layout.writeJson(
    { schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(config), layers: layers.map(descriptor) },
    OCI_MANIFEST,
  );
  return { digest: manifest.digest, size: manifest.size, mediaType: OCI_MANIFEST, bytes: manifest.bytes, platform, config, layers };
}

/** An attestation manifest the way BuildKit writes one: platform unknown/unknown, an in-toto layer. */
function writeAttestationManifest(layout: OciLayout, seed: string, subject: BuiltManifest): BuiltManifest {
  const statement = layout.writeJson(
    {
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://spdx.dev/Document',
      subject: [{ name: `berth-test/${seed}`, digest: { sha256: subject.digest.slice('sha256:'.length) } }],
      predicate: { spdxVersion: 'SPDX-2.3', name: `berth-test-${seed}` },
    },
    IN_TOTO,
  );
  const layer: BuiltLayer = { ...statement, diffId: statement.digest };
  const config = layout.writeJson(
    { architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [statement.digest] } },
    OCI_CONFIG,
  );
  const manifest = layout.writeJson(
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: descriptor(config),
      layers: [{ ...descriptor(layer), annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } }],
    },
    OCI_MANIFEST,
  );
  return {
    digest: manifest.digest,
    size: manifest.size,
    mediaType: OCI_MANIFEST,
    bytes: manifest.bytes,
    platform: { os: 'unknown', architecture: 'unknown' },
    annotations: {
      'vnd.docker.reference.type': 'attestation-manifest',
      'vnd.docker.reference.digest': subject.digest,
    },
    config,
    layers: [layer],
  };
}

const DEFAULT_LAYER_SIZES = [2 * 1024, 8 * 1024];
const LAYOUT_TAG = 'latest';

function newLayout(seed: string): OciLayout {
  return new OciLayout(mkdtempSync(join(tmpdir(), `berth-image-${seed.replace(/[^\w.-]/g, '_')}-`)));
}

/** An OCI index of linux/amd64, linux/arm64/v8 and an attestation manifest for the amd64 image. */
export async function buildMultiPlatformImage(spec: ImageSpec): Promise<BuiltImage> {
  const layout = newLayout(spec.seed);
  const sizes = spec.layerSizes ?? DEFAULT_LAYER_SIZES;
  const level = spec.gzipLevel ?? 0;
  const amd64 = await writePlatformManifest(layout, spec.seed, { os: 'linux', architecture: 'amd64' }, sizes, level);
  const arm64 = await writePlatformManifest(
    layout,
    spec.seed,
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
    sizes,
    level,
  );
  const attestation = writeAttestationManifest(layout, spec.seed, amd64);
  const manifests = [amd64, arm64, attestation];
  const index = layout.writeJson(
    {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: manifests.map((m) => ({
        ...descriptor(m),
        platform: m.platform,
        ...(m.annotations ? { annotations: m.annotations } : {}),
      })),
    },
    OCI_INDEX,
  );
  layout.writeIndexJson(index, LAYOUT_TAG);
  return {
    layoutDir: layout.dir,
    layoutTag: LAYOUT_TAG,
    digest: index.digest,
    mediaType: OCI_INDEX,
    bytes: index.bytes,
    manifests,
    attestation,
    remove: () => rmSync(layout.dir, { recursive: true, force: true }),
  };
}

/** One OCI image manifest for one platform (linux/amd64 unless told). */
export async function buildSinglePlatformImage(spec: ImageSpec & { platform?: TestPlatform }): Promise<BuiltImage> {
  const layout = newLayout(spec.seed);
  const manifest = await writePlatformManifest(
    layout,
    spec.seed,
    spec.platform ?? { os: 'linux', architecture: 'amd64' },
    spec.layerSizes ?? DEFAULT_LAYER_SIZES,
    spec.gzipLevel ?? 0,
  );
  layout.writeIndexJson(manifest, LAYOUT_TAG);
  return {
    layoutDir: layout.dir,
    layoutTag: LAYOUT_TAG,
    digest: manifest.digest,
    mediaType: OCI_MANIFEST,
    bytes: manifest.bytes,
    manifests: [manifest],
    remove: () => rmSync(layout.dir, { recursive: true, force: true }),
  };
}

export interface PushTarget {
  /** `host:port` of the registry. */
  address: string;
  /** The CA that verifies the registry (and, for token auth, the token issuer). */
  caCertPem: string;
  username?: string;
  password?: string;
}

/** Pushes an image layout as is (`--all`, digests preserved) with skopeo. */
export async function pushImage(image: BuiltImage, target: PushTarget, repository: string, tag: string): Promise<void> {
  const certDir = mkdtempSync(join(tmpdir(), 'berth-skopeo-certs-'));
  try {
    writeFileSync(join(certDir, 'ca.crt'), target.caCertPem);
    const creds = target.username !== undefined ? ['--dest-creds', `${target.username}:${target.password ?? ''}`] : ['--dest-no-creds'];
    await execFileAsync(
      'skopeo',
      [
        'copy', '--all', '--preserve-digests', '--quiet',
        '--dest-cert-dir', certDir, ...creds,
        `oci:${image.layoutDir}:${image.layoutTag}`,
        `docker://${target.address}/${repository}:${tag}`,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } finally {
    rmSync(certDir, { recursive: true, force: true });
  }
}

/** The Authorization header to push to `repository`: Basic, or a pull/push token from a Bearer challenge's realm. */
async function pushAuthorization(target: PushTarget, dispatcher: Agent, repository: string): Promise<string | undefined> {
  const origin = `https://${target.address}`;
  const ping = await request(`${origin}/v2/`, { dispatcher });
  await ping.body.dump();
  if (ping.statusCode !== 401 || target.username === undefined) return undefined;
  const basic = `Basic ${Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64')}`;
  const challenge = String(ping.headers['www-authenticate'] ?? '');
  if (!/^bearer\s/i.test(challenge)) return basic;
  const param = (name: string) => new RegExp(`${name}="([^"]*)"`, 'i').exec(challenge)?.[1];
  const realm = new URL(param('realm') ?? '');
  realm.searchParams.set('service', param('service') ?? '');
  realm.searchParams.set('scope', `repository:${repository}:pull,push`);
  const answer = await request(realm, { dispatcher, headers: { authorization: basic } });
  if (answer.statusCode !== 200) throw new Error(`token request for pushing ${repository} answered ${answer.statusCode}`);
  const body = (await answer.body.json()) as { token?: string; access_token?: string };
  return `Bearer ${body.token ?? body.access_token}`;
}

export interface PushedTag {
  tag: string;
  digest: string;
}

/**
 * Pushes `tags.length` tiny distinct images to `repository`, one per tag, through the registry API: the config and
 * the layer are uploaded once and each tag gets its own manifest (an annotation names the tag), so the digests
 * differ. Much faster than one skopeo run per tag.
 */
export async function pushManyTags(target: PushTarget, repository: string, tags: string[]): Promise<PushedTag[]> {
  const dispatcher = new Agent({ connect: { ca: target.caCertPem }, connections: 8 });
  try {
    const authorization = await pushAuthorization(target, dispatcher, repository);
    const headers = (extra: Record<string, string>) => ({ ...extra, ...(authorization ? { authorization } : {}) });
    const origin = `https://${target.address}`;

    const uploadBlob = async (bytes: Buffer): Promise<string> => {
      const digest = sha256(bytes);
      const start = await request(`${origin}/v2/${repository}/blobs/uploads/`, { method: 'POST', dispatcher, headers: headers({}) });
      await start.body.dump();
      if (start.statusCode !== 202) throw new Error(`starting a blob upload to ${repository} answered ${start.statusCode}`);
      const location = new URL(String(start.headers.location), origin);
      location.searchParams.set('digest', digest);
      const put = await request(location, {
        method: 'PUT',
        dispatcher,
        body: bytes,
        headers: headers({ 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }),
      });
      await put.body.dump();
      if (put.statusCode !== 201) throw new Error(`uploading blob ${digest} to ${repository} answered ${put.statusCode}`);
      return digest;
    };

    const layerBytes = await gzipTarOfText(`tiny image of ${repository}\n`);
    const layerDigest = await uploadBlob(layerBytes);
    const diffId = sha256(await tarOfText(`tiny image of ${repository}\n`));
    const configBytes = Buffer.from(
      JSON.stringify({
        created: FIXED_TIME.toISOString(),
        architecture: 'amd64',
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [diffId] },
      }),
    );
    const configDigest = await uploadBlob(configBytes);

    const pushed: PushedTag[] = [];
    const queue = [...tags];
    const worker = async () => {
      for (let tag = queue.shift(); tag !== undefined; tag = queue.shift()) {
        const bytes = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            config: { mediaType: OCI_CONFIG, digest: configDigest, size: configBytes.length },
            layers: [{ mediaType: OCI_LAYER_GZIP, digest: layerDigest, size: layerBytes.length }],
            annotations: { 'org.example.tag': tag },
          }),
        );
        const put = await request(`${origin}/v2/${repository}/manifests/${tag}`, {
          method: 'PUT',
          dispatcher,
          body: bytes,
          headers: headers({ 'content-type': OCI_MANIFEST }),
        });
        await put.body.dump();
        if (put.statusCode !== 201) throw new Error(`pushing manifest ${repository}:${tag} answered ${put.statusCode}`);
        pushed.push({ tag, digest: sha256(bytes) });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return pushed.sort((a, b) => a.tag.localeCompare(b.tag));
  } finally {
    await dispatcher.close();
  }
}

async function tarOfText(text: string): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'hello.txt', mtime: FIXED_TIME, mode: 0o644, uid: 0, gid: 0 }, text);
  pack.finalize();
  return collect(pack);
}

async function gzipTarOfText(text: string): Promise<Buffer> {
  const gzip = createGzip({ level: zlibConstants.Z_BEST_SPEED });
  gzip.end(await tarOfText(text));
  return collect(gzip);
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** The bytes of a blob in a built layout, `[offset, end)`, for comparing with what a registry serves. */
export async function readBlob(blob: BuiltBlob, offset = 0): Promise<Buffer> {
  return collect(createReadStream(blob.path, { start: offset }));
}
