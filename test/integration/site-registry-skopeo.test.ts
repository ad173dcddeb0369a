// The site registry against a real, independent client: skopeo pushes a two-platform OCI image over plain HTTP
// on loopback, inspects it raw and copies it back to an OCI layout; every digest must survive the round trip.
// Then a whole Berth with anonymous pull: skopeo pulls without credentials and pushes with them (the token flow).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { createRegistryRouter, createSiteRegistry, type RegistryAccess, type SiteRegistry } from '../../src/registry/index.js';
import { Api } from '../helpers/api.js';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import {
  buildPlatformImage,
  buildTestImage,
  readOciLayoutBlob,
  readOciLayoutTag,
  sha256Digest,
  skopeoCopy,
  skopeoInspectRaw,
  writeOciLayout,
  type TestImage,
} from '../helpers/skopeo.js';

const tokens = { admin: 'admin-token-5f1c', operator: 'operator-token-9a2e', read: 'read-token-3b7d' } as const;

describe('site registry with skopeo', () => {
  let dataDir: string;
  let workDir: string;
  let registry: SiteRegistry;
  let server: Server;
  let host: string;
  let image: TestImage;
  const access: RegistryAccess = {
    anonymousPull: false,
    authenticate: async (authorization) => {
      const role = (Object.keys(tokens) as Array<keyof typeof tokens>).find((r) => authorization === `Bearer ${tokens[r]}`);
      return role ? { role } : undefined;
    },
  };
  const operator = { tlsVerify: false, creds: { username: 'skopeo', password: tokens.operator } };
  const reader = { tlsVerify: false, creds: { username: 'anyone', password: tokens.read } };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'berth-registry-skopeo-'));
    workDir = mkdtempSync(join(tmpdir(), 'berth-registry-layouts-'));
    registry = await createSiteRegistry({ dataDir });
    const app = express();
    app.use('/v2', createRegistryRouter(registry, access));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    image = await buildTestImage();
    writeOciLayout(join(workDir, 'source'), image, 'v1');
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await registry.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  });

  it('accepts a multi-platform push (copy --all) and serves the index byte for byte to inspect --raw', async () => {
    await skopeoCopy(`oci:${join(workDir, 'source')}:v1`, `docker://${host}/edge/demo/app:v1`, { all: true, dest: operator });
    const raw = await skopeoInspectRaw(`docker://${host}/edge/demo/app:v1`, reader);
    assert.equal(sha256Digest(raw), image.index.digest);
    assert.ok(raw.equals(image.index.bytes));
    for (const platformImage of image.images) {
      const manifest = await skopeoInspectRaw(`docker://${host}/edge/demo/app@${platformImage.manifest.digest}`, reader);
      assert.ok(manifest.equals(platformImage.manifest.bytes));
    }
  });

  it('copies the image back to an OCI layout with every digest identical to the source', async () => {
    const out = join(workDir, 'copied-back');
    await skopeoCopy(`docker://${host}/edge/demo/app:v1`, `oci:${out}:v1`, { all: true, src: reader });
    const top = readOciLayoutTag(out, 'v1');
    assert.equal(top.digest, image.index.digest);
    assert.equal(top.mediaType, 'application/vnd.oci.image.index.v1+json');
    for (const blob of image.blobs.values()) {
      assert.equal(sha256Digest(readOciLayoutBlob(out, blob.digest)), blob.digest, `blob ${blob.digest} (${blob.mediaType})`);
    }
  });

  it('shows the pushed image in the domain view with its platforms and total size', async () => {
    const repository = await registry.getRepository('edge/demo/app');
    assert.equal(repository.tags.length, 1);
    const tag = repository.tags[0]!;
    assert.equal(tag.tag, 'v1');
    assert.equal(tag.digest, image.index.digest);
    assert.deepEqual([...tag.platforms].sort(), ['linux/amd64', 'linux/arm64/v8']);
    const expectedSize = [...image.blobs.values()].reduce((n, b) => n + b.bytes.length, 0);
    assert.equal(tag.size, expectedSize);
  });

  it('accepts a single platform converted to Docker schema 2 and serves it with that media type', async () => {
    await skopeoCopy(`oci:${join(workDir, 'source')}:v1`, `docker://${host}/edge/demo/app:amd64-v2s2`, {
      dest: operator,
      extra: ['--format', 'v2s2', '--override-os', 'linux', '--override-arch', 'amd64'],
    });
    const raw = await skopeoInspectRaw(`docker://${host}/edge/demo/app:amd64-v2s2`, reader);
    const manifest = JSON.parse(raw.toString('utf8')) as { mediaType: string; config: { digest: string }; layers: Array<{ digest: string }> };
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    const amd64 = image.images.find((i) => i.platform.architecture === 'amd64')!;
    assert.equal(manifest.config.digest, amd64.config.digest);
    assert.deepEqual(manifest.layers.map((l) => l.digest), amd64.layers.map((l) => l.digest));
    const res = await fetch(`http://${host}/v2/edge/demo/app/manifests/amd64-v2s2`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${tokens.read}` },
    });
    assert.equal(res.headers.get('content-type'), 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(res.headers.get('docker-content-digest'), sha256Digest(raw));
  });

  it('streams a 16 MiB layer through push and pull intact', async () => {
    const big = await buildPlatformImage({ os: 'linux', architecture: 'amd64' }, { 'opt/big.bin': randomBytes(16 * 1024 * 1024) });
    const layout = join(workDir, 'big');
    writeOciLayout(layout, { images: [big], index: big.manifest, blobs: new Map([big.manifest, big.config, ...big.layers].map((b) => [b.digest, b])) }, 'big');
    await skopeoCopy(`oci:${layout}:big`, `docker://${host}/edge/big:v1`, { dest: operator });
    const out = join(workDir, 'big-back');
    await skopeoCopy(`docker://${host}/edge/big:v1`, `oci:${out}:big`, { src: reader });
    assert.equal(readOciLayoutTag(out, 'big').digest, big.manifest.digest);
    const layer = big.layers[0]!;
    assert.equal(sha256Digest(readOciLayoutBlob(out, layer.digest)), layer.digest);
    assert.ok(layer.bytes.length > 16 * 1024 * 1024);
  });

  it('serves anonymous pulls to skopeo when anonymousPull is on', async () => {
    await assert.rejects(skopeoInspectRaw(`docker://${host}/edge/demo/app:v1`, { tlsVerify: false }), /unauthorized|401|authentication required/i);
    access.anonymousPull = true;
    try {
      const raw = await skopeoInspectRaw(`docker://${host}/edge/demo/app:v1`, { tlsVerify: false });
      assert.equal(sha256Digest(raw), image.index.digest);
    } finally {
      access.anonymousPull = false;
    }
  });

  it('refuses a push with a read-only token', async () => {
    await assert.rejects(
      skopeoCopy(`oci:${join(workDir, 'source')}:v1`, `docker://${host}/edge/other:v1`, { all: true, dest: reader }),
      /denied|403|DENIED/i,
    );
    await assert.rejects(registry.getRepository('edge/other'), /not known/);
  });
});

describe('a Berth with anonymous pull, with skopeo', () => {
  let berth: BerthProcess;
  let host: string;
  let workDir: string;
  let image: TestImage;
  const tokens: Record<'operator' | 'read' | 'site', string> = { operator: '', read: '', site: '' };
  const as = (role: keyof typeof tokens) => ({ tlsVerify: false, creds: { username: `skopeo-${role}`, password: tokens[role] } });
  const anonymous = { tlsVerify: false };

  before(async () => {
    berth = await startBerth({ env: { BERTH_REGISTRY_ANONYMOUS_PULL: 'true' } });
    host = new URL(berth.url).host;
    const api = new Api(berth.url, berth.adminToken);
    for (const [role, extra] of [['operator', {}], ['read', {}], ['site', { site: 'edge-1' }]] as const) {
      const created = await api.post('/v1/config/system/tokens', { name: `skopeo-${role}`, role, ...extra });
      assert.equal(created.status, 201, created.text);
      tokens[role] = (created.body as { token: string }).token;
    }
    workDir = mkdtempSync(join(tmpdir(), 'berth-token-flow-'));
    image = await buildTestImage();
    writeOciLayout(join(workDir, 'source'), image, 'v1');
  });

  after(async () => {
    await berth.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  const repositoryExists = async (name: string) => (await fetch(`${berth.url}/v2/${name}/tags/list`)).status === 200;

  it('pushes with credentials (an operator token as the password) to the Berth that serves anonymous pulls', async () => {
    await skopeoCopy(`oci:${join(workDir, 'source')}:v1`, `docker://${host}/team/app:v1`, { all: true, dest: as('operator') });
    assert.ok(await repositoryExists('team/app'));
  });

  it('pulls anonymously, byte for byte', async () => {
    const raw = await skopeoInspectRaw(`docker://${host}/team/app:v1`, anonymous);
    assert.equal(sha256Digest(raw), image.index.digest);
    const out = join(workDir, 'pulled');
    await skopeoCopy(`docker://${host}/team/app:v1`, `oci:${out}:v1`, { all: true, src: anonymous });
    assert.equal(readOciLayoutTag(out, 'v1').digest, image.index.digest);
  });

  it('refuses a push without credentials, with a read token and with a site token; nothing is written', async () => {
    for (const [who, dest] of [['nobody', anonymous], ['read', as('read')], ['site', as('site')]] as const) {
      await assert.rejects(
        skopeoCopy(`oci:${join(workDir, 'source')}:v1`, `docker://${host}/team/refused-${who}:v1`, { all: true, dest }),
        /unauthorized|denied|authentication required|401|403/i,
        who,
      );
      assert.equal(await repositoryExists(`team/refused-${who}`), false, who);
    }
  });
});
