// /v1/state/image-registry/repositories and /garbage-collect against a started Berth whose site registry was filled
// by skopeo through /v2: the list and its query options, one repository by encoded and by plain-slash name,
// deleting tags and images (roles included), and garbage collection. Every answer is checked against the contract.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api, errorMessage } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { buildMultiPlatformImage, buildSinglePlatformImage, type BuiltImage } from '../helpers/oci-images.js';
import { readOciLayoutTag, skopeoCopy, skopeoInspectRaw } from '../helpers/skopeo.js';

const REPOSITORIES = '/v1/state/image-registry/repositories';
const GC = '/v1/state/image-registry/garbage-collect';

let berth: BerthProcess;
let api: Api;
let workDir: string;
let multi: BuiltImage;
let single: BuiltImage;
const roles: Record<'read' | 'operator', Api> = {} as Record<'read' | 'operator', Api>;

const berthSide = () => ({ tlsVerify: false, creds: { username: 'x', password: berth.adminToken } });
const berthImage = (name: string) => `docker://${berth.url.replace('http://', '')}/${name}`;

/** Bytes of every distinct manifest, config and layer of an image: what the site registry reports as its size. */
function sizeOf(image: BuiltImage): number {
  const sizes = new Map<string, number>([[image.digest, image.bytes.length]]);
  for (const m of image.manifests) for (const b of [m, m.config, ...m.layers]) sizes.set(b.digest, b.size);
  return [...sizes.values()].reduce((a, b) => a + b, 0);
}

function blobDigestsOf(image: BuiltImage): string[] {
  const digests = new Set([image.digest]);
  for (const m of image.manifests) for (const b of [m, m.config, ...m.layers]) digests.add(b.digest);
  return [...digests];
}

const tagOf = (image: BuiltImage, tag: string) => ({
  tag,
  digest: image.digest,
  'media-type': image.mediaType,
  platforms: image.manifests.length > 1 ? ['linux/amd64', 'linux/arm64/v8'] : ['linux/amd64'],
  size: sizeOf(image),
});

/** The list answer without the `updated` times, which only need to be dates. */
function withoutTimes(body: unknown): unknown {
  return (body as Array<{ name: string; tags: Array<Record<string, unknown>> }>).map((r) => ({
    ...r,
    tags: r.tags.map(({ updated, ...rest }) => {
      assert.ok(!Number.isNaN(Date.parse(String(updated))), `updated '${String(updated)}' is a date`);
      return rest;
    }),
  }));
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'berth-site-repositories-'));
  berth = await startBerth();
  api = new Api(berth.url, berth.adminToken, assertMatchesContract);
  for (const role of ['read', 'operator'] as const) {
    const created = await api.post('/v1/config/system/tokens', { name: `repositories-${role}`, role });
    assert.equal(created.status, 201, created.text);
    roles[role] = api.withToken((created.body as { token: string }).token);
  }
  [multi, single] = await Promise.all([buildMultiPlatformImage({ seed: 'repositories-multi' }), buildSinglePlatformImage({ seed: 'repositories-single' })]);
  for (const [image, name] of [[multi, 'edge/demo/app:v1'], [multi, 'edge/demo/app:v2'], [single, 'edge/tools:1']] as const) {
    await skopeoCopy(`oci:${image.layoutDir}:${image.layoutTag}`, berthImage(name), { all: true, extra: ['--preserve-digests'], dest: berthSide() });
  }
});

after(async () => {
  if (berth) assert.equal(await berth.stop(), 0);
  multi?.remove();
  single?.remove();
  rmSync(workDir, { recursive: true, force: true });
});

describe('reading repositories', () => {
  it('lists every repository with its tags, digests, platforms and sizes', async () => {
    const res = await api.get(REPOSITORIES);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(withoutTimes(res.body), [
      { name: 'edge/demo/app', tags: [tagOf(multi, 'v1'), tagOf(multi, 'v2')] },
      { name: 'edge/tools', tags: [tagOf(single, '1')] },
    ]);
    const asYaml = await api.get(REPOSITORIES, { accept: 'application/yaml' });
    assert.match(asYaml.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.deepEqual(yaml.load(asYaml.text), res.body);
  });

  it('supports fields, keys and count like every list', async () => {
    assert.deepEqual((await api.get(`${REPOSITORIES}?keys=true`)).body, ['edge/demo/app', 'edge/tools']);
    assert.deepEqual((await api.get(`${REPOSITORIES}?count=true`)).body, { count: 2 });
    assert.deepEqual((await api.get(`${REPOSITORIES}?fields=name;tags(tag;digest)`)).body, [
      { name: 'edge/demo/app', tags: [{ tag: 'v1', digest: multi.digest }, { tag: 'v2', digest: multi.digest }] },
      { name: 'edge/tools', tags: [{ tag: '1', digest: single.digest }] },
    ]);
    const unknown = await api.get(`${REPOSITORIES}?fields=name;colour`);
    assert.equal(unknown.status, 400);
    assert.match(errorMessage(unknown), /unknown field 'colour'/);
    assert.equal((await api.get(`${REPOSITORIES}?keys=true&count=true`)).status, 400);
  });

  it('reads one repository by its %2F-encoded name and by its plain-slash name alike', async () => {
    const encoded = await api.get(`${REPOSITORIES}/edge%2Fdemo%2Fapp`);
    assert.equal(encoded.status, 200, encoded.text);
    assert.deepEqual(withoutTimes([encoded.body]), [{ name: 'edge/demo/app', tags: [tagOf(multi, 'v1'), tagOf(multi, 'v2')] }]);
    const plain = await fetch(`${berth.url}${REPOSITORIES}/edge/demo/app?fields=name`, { headers: { authorization: `Bearer ${berth.adminToken}` } });
    assert.equal(plain.status, 200);
    assert.deepEqual(await plain.json(), { name: 'edge/demo/app' });
  });

  it('404 for an unknown repository or any site, 400 for an invalid name', async () => {
    const unknown = await api.get(`${REPOSITORIES}/edge%2Fnothing`);
    assert.equal(unknown.status, 404);
    assert.match(errorMessage(unknown), /repository edge\/nothing not known/);
    const site = await api.get(`${REPOSITORIES}?site=edge-1`);
    assert.equal(site.status, 404);
    assert.match(errorMessage(site), /unknown site 'edge-1'/);
    const invalid = await api.get(`${REPOSITORIES}/Edge%2FApp`);
    assert.equal(invalid.status, 400);
    assert.match(errorMessage(invalid), /repository-name/);
  });

  it('lets the read role read', async () => {
    assert.equal((await roles.read.get(REPOSITORIES)).status, 200);
  });
});

describe('deleting and collecting garbage', () => {
  it('deletes a tag (validate=true first changes nothing); the image stays under its other tag', async () => {
    const path = `${REPOSITORIES}/edge%2Fdemo%2Fapp/tags/v1`;
    assert.equal((await roles.read.delete(path)).status, 403, 'read may not delete');
    assert.equal((await roles.operator.delete(`${path}?validate=true`)).status, 204);
    assert.equal(((await api.get(`${REPOSITORIES}/edge%2Fdemo%2Fapp?fields=tags(tag)`)).body as { tags: unknown[] }).tags.length, 2);
    assert.equal((await roles.operator.delete(path)).status, 204);
    assert.deepEqual((await api.get(`${REPOSITORIES}/edge%2Fdemo%2Fapp?fields=tags(tag)`)).body, { tags: [{ tag: 'v2' }] });
    const again = await api.delete(path);
    assert.equal(again.status, 404);
    assert.match(errorMessage(again), /manifest v1 unknown to repository edge\/demo\/app/);
    assert.equal((await api.delete(`${path.replace(/\/v1$/, '/nope')}?validate=true`)).status, 404);
  });

  it('garbage collection keeps recent blobs by default and everything an image still uses', async () => {
    const res = await api.post(GC);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { 'removed-blobs': [], 'bytes-freed': 0, 'expired-uploads': 0 });
    assert.equal((await roles.read.post(GC, { 'grace-period-seconds': 0 })).status, 403);
  });

  it('deletes an image by digest through the plain-slash path, and garbage collection then frees its blobs', async () => {
    // Raw fetch: the contract names this path with the name as one segment, which the contract checker expects.
    const deleted = await fetch(`${berth.url}${REPOSITORIES}/edge/tools/images/${single.digest}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${roles.operator.token}` },
    });
    assert.equal(deleted.status, 204, await deleted.text());
    const listed = await api.get(`${REPOSITORIES}?keys=true`);
    assert.deepEqual(listed.body, ['edge/demo/app']);

    const res = await roles.operator.post(GC, { 'grace-period-seconds': 0 });
    assert.equal(res.status, 200, res.text);
    const body = res.body as { 'removed-blobs': Array<{ digest: string; size: number }>; 'bytes-freed': number };
    assert.deepEqual(body['removed-blobs'].map((b) => b.digest).sort(), blobDigestsOf(single).sort());
    assert.equal(body['bytes-freed'], sizeOf(single));
    assert.equal((await api.get(`${REPOSITORIES}/edge%2Ftools`)).status, 404);
    await assert.rejects(skopeoInspectRaw(berthImage('edge/tools:1'), berthSide()), /name unknown: repository edge\/tools not known/);

    // The multi-platform image, still tagged v2, lost nothing.
    const layout = join(workDir, 'kept');
    await skopeoCopy(berthImage('edge/demo/app:v2'), `oci:${layout}:v2`, { all: true, src: berthSide() });
    assert.equal(readOciLayoutTag(layout, 'v2').digest, multi.digest);
  });

  it('a platform manifest a stored index lists cannot be deleted alone, through /v1 or /v2 (409 naming the index)', async () => {
    const child = multi.manifests[0]!.digest;
    for (const path of [`${REPOSITORIES}/edge%2Fdemo%2Fapp/images/${child}`, `${REPOSITORIES}/edge%2Fdemo%2Fapp/images/${child}?validate=true`]) {
      const refused = await roles.operator.delete(path);
      assert.equal(refused.status, 409, refused.text);
      assert.match(errorMessage(refused), new RegExp(`listed by the image index ${multi.digest} in repository edge/demo/app`));
    }
    const v2 = await fetch(`${berth.url}/v2/edge/demo/app/manifests/${child}`, { method: 'DELETE', headers: { authorization: `Bearer ${roles.operator.token}` } });
    assert.equal(v2.status, 409);
    const body = (await v2.json()) as { errors: Array<{ code: string; message: string; detail: { index: string } }> };
    assert.equal(body.errors[0]!.code, 'DENIED');
    assert.equal(body.errors[0]!.detail.index, multi.digest);
    // Nothing was lost: the tag still reaches every platform, and state lists them all.
    assert.equal((await fetch(`${berth.url}/v2/edge/demo/app/manifests/${child}`, { headers: { authorization: `Bearer ${roles.operator.token}` } })).status, 200);
    const state = (await api.get(`${REPOSITORIES}/edge%2Fdemo%2Fapp`)).body as { tags: Array<{ platforms: string[] }> };
    assert.deepEqual(state.tags[0]!.platforms, ['linux/amd64', 'linux/arm64/v8']);
  });

  it('deleting an index deletes its platform manifests and every tag on it', async () => {
    assert.equal((await api.delete(`${REPOSITORIES}/edge%2Fdemo%2Fapp/images/${multi.digest}`)).status, 204);
    assert.deepEqual((await api.get(`${REPOSITORIES}?count=true`)).body, { count: 0 });
    const res = await api.post(GC, { 'grace-period-seconds': 0 }, { contentType: 'application/yaml', accept: 'application/yaml' });
    assert.equal(res.status, 200, res.text);
    const removed = (res.body as { 'removed-blobs': Array<{ digest: string }> })['removed-blobs'].map((b) => b.digest).sort();
    assert.deepEqual(removed, blobDigestsOf(multi).sort());
  });
});
