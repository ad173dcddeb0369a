// Fleets: a control tower and three sites (a and b in region eu, c in region us), each a Berth process with its own
// store, and a real docker-registry (TLS). Labels and selectors; desired images for `region=eu` reaching exactly a
// and b (2 of 2 ready), one failing image not holding up the others, a site down during a rollout catching up, the
// tower forgetting reports on restart and getting them again, a selector change adding a site and releasing two
// (their images stay, now deletable); fan-out operations with a site down, as one document and as NDJSON, with silent
// sites given their time limit two at a time; and bad input refused with nothing written. Every answer is checked
// against the contract.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { errorMessage, type ApiResponse } from '../helpers/api.js';
import { SITE_TOKENS_MOUNT, startSite, startTower, type RunningSite, type RunningTower } from '../helpers/berth-site.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { eventually } from '../helpers/eventually.js';
import { buildSinglePlatformImage, pushImage, type BuiltImage } from '../helpers/oci-images.js';
import { vaultClient } from '../helpers/secret-values.js';
import { validatorFor } from '../../src/contract/openapi.js';

const REGISTRIES = '/v1/config/image-registry/remote-registries';
const SITE_IMAGES = '/v1/config/image-registry/site-images';
const SITE_IMAGES_STATE = '/v1/state/image-registry/site-images';
const REPOSITORIES = '/v1/state/image-registry/repositories';

let registry: RunningRegistry;
let kettle: BuiltImage;
let popper: BuiltImage;
let kettleV2: BuiltImage;
let tower: RunningTower;
let sites: Record<'a' | 'b' | 'c', RunningSite>;

const inspect = (method: string, path: string, res: ApiResponse) => {
  // NDJSON answers are read line by line below; everything else must match the contract as it is.
  if (!(res.headers.get('content-type') ?? '').startsWith('application/x-ndjson')) assertMatchesContract(method, path, res);
};
const image = (repository: string) => `${registry.address}/${repository}`;

interface SiteImagesSiteState {
  site: string;
  state: string;
  connected?: boolean;
  'last-contact'?: string;
  'reported-state'?: string;
  images?: { image: string; state: string; digest?: string; bytes?: number; 'last-error'?: string; target: string }[];
}
interface SiteImagesState {
  'selected-sites': number;
  'ready-sites': number;
  summary: string;
  'site-states': SiteImagesSiteState[];
}

const stateOf = async (name: string): Promise<SiteImagesState> => {
  const res = await tower.api.get(`${SITE_IMAGES_STATE}/${name}`);
  assert.equal(res.status, 200, res.text);
  return res.body as SiteImagesState;
};

/** Waits until the tower shows `name` with exactly these sites, in these states. */
const until = (name: string, wanted: Record<string, string>) =>
  eventually(`${name}: ${JSON.stringify(wanted)}`, async () => {
    const state = await stateOf(name);
    const got = Object.fromEntries(state['site-states'].map((s) => [s.site, s.state]));
    return JSON.stringify(got) === JSON.stringify(wanted) ? state : undefined;
  }, 90_000);

const repositoriesAt = async (site: string): Promise<string[]> => {
  const res = await tower.api.get(`${REPOSITORIES}?keys=true&site=${site}`);
  assert.equal(res.status, 200, res.text);
  return res.body as string[];
};

const tagsAt = async (site: RunningSite, repository: string): Promise<Record<string, string>> => {
  const res = await site.api.get(`${REPOSITORIES}/${encodeURIComponent(repository)}`);
  if (res.status === 404) return {};
  assert.equal(res.status, 200, res.text);
  return Object.fromEntries((res.body as { tags: { tag: string; digest: string }[] }).tags.map((t) => [t.tag, t.digest]));
};

before(async () => {
  const started = await Promise.all([
    startDockerRegistry({ auth: { kind: 'none' } }),
    buildSinglePlatformImage({ seed: 'fleet-kettle' }),
    buildSinglePlatformImage({ seed: 'fleet-popper' }),
    buildSinglePlatformImage({ seed: 'fleet-kettle-v2' }),
    // Fan-outs call two sites at a time and give each 3 s (the silent sites below show both).
    startTower({ inspect, env: { BERTH_FANOUT_CONCURRENCY: '2', BERTH_FANOUT_TIMEOUT: '3' } }),
  ]);
  [registry, kettle, popper, kettleV2, tower] = started;
  const target = { address: registry.address, caCertPem: registry.caCertPem };
  const [a, b, c] = await Promise.all([
    startSite(tower, 'a', { inspect }),
    startSite(tower, 'b', { inspect }),
    startSite(tower, 'c', { inspect }),
    pushImage(kettle, target, 'apps/kettle', 'v1'),
    pushImage(popper, target, 'apps/popper', 'v1'),
    pushImage(kettleV2, target, 'apps/kettle', 'v2'),
  ]);
  sites = { a: a!, b: b!, c: c! };
  const created = await tower.api.post(REGISTRIES, { address: registry.address, 'ca-cert': registry.caCertPem });
  assert.equal(created.status, 201, created.text);
});

after(async () => {
  for (const close of [...Object.values(sites ?? {}).map((s) => () => s.close()), () => tower?.close(), () => registry?.stop()]) {
    await close()?.catch((e: unknown) => console.error(e));
  }
  for (const built of [kettle, popper, kettleV2]) built?.remove();
});

describe('fleet', () => {
  it('labels on sites; /v1/state/sites selects, counts and pages by them', async () => {
    for (const [name, region] of [['a', 'eu'], ['b', 'eu'], ['c', 'us']] as const) {
      const res = await tower.api.patch(`/v1/config/sites/${name}`, { labels: { region, 'example.com/rack': `r-${name}` } });
      assert.equal(res.status, 204, res.text);
    }
    const names = async (query: string) => (await tower.api.get(`/v1/state/sites?keys=true&${query}`)).body;
    assert.deepEqual(await names('selector=region%3Deu'), ['a', 'b']);
    assert.deepEqual(await names('selector=region%3Deu,example.com/rack!%3Dr-a'), ['b']);
    assert.deepEqual(await names('selector=name%20in%20(a,%20c)'), ['a', 'c']);
    assert.deepEqual(await names('selector=!region'), []);
    assert.deepEqual((await tower.api.get('/v1/state/sites?count=true&selector=region%20notin%20(us)')).body, { count: 2 });
    const page = await tower.api.get('/v1/state/sites?keys=true&limit=2');
    assert.deepEqual(page.body, ['a', 'b']);
    assert.equal(page.headers.get('link'), '</v1/state/sites?keys=true&limit=2&after=b>; rel="next"');
    const next = await tower.api.get('/v1/state/sites?keys=true&limit=2&after=b');
    assert.deepEqual(next.body, ['c']);
    assert.equal(next.headers.get('link'), null);
    const one = await tower.api.get('/v1/state/sites/a?fields=labels');
    assert.deepEqual(one.body, { labels: { region: 'eu', 'example.com/rack': 'r-a' } });
  });

  it('bad input is refused with the error body, naming the wrong part, and nothing is written', async () => {
    const before = { sites: (await tower.api.get('/v1/config/sites')).text, images: (await tower.api.get(SITE_IMAGES)).text };
    const refused = (res: ApiResponse, pattern: RegExp) => {
      assert.equal(res.status, 400, res.text);
      assert.match(errorMessage(res), pattern);
    };
    // Selectors that do not parse, wherever they are taken.
    for (const [selector, part] of [
      ['region=', /at character 8.*expected a value after '='/],
      ['region==eu,', /at character 12.*expected a label key/],
      ['region in (eu', /expected ',' or '\)'/],
      ['Region Eu', /expected ',' between terms, found 'E'/],
      ['name=Not_A_Site', /'Not_A_Site' is not a site name/],
      ['tier=canary,*', /'\*' stands alone/],
      ['!name', /'!name' selects nothing/],
      ['-bad=x', /'-bad' is not a label key/],
    ] as const) {
      const query = encodeURIComponent(selector);
      refused(await tower.api.get(`/v1/state/sites?selector=${query}`), new RegExp(`selector: .*${part.source}`));
      refused(await tower.api.post(`/v1/state/image-registry/remote-registries/${registry.address}/verify-credentials?sites=${query}`, {}), part);
      refused(await tower.api.post(SITE_IMAGES, { name: 'bad', sites: selector, images: [{ image: image('apps/kettle:v1') }] }), new RegExp(`^sites: .*${part.source}`));
    }
    // Labels out of the allowed syntax.
    for (const labels of [{ 'bad key': 'x' }, { region: 'e u' }, { region: '' }, { name: 'a' }, { [`${'x'.repeat(64)}`]: 'y' }, { region: 'v'.repeat(64) }]) {
      refused(await tower.api.patch('/v1/config/sites/a', { labels }), /^labels/);
      refused(await tower.api.put('/v1/config/sites/d', { name: 'd', 'api-url': 'http://127.0.0.1:9', vault: 'v', secret: 's', labels }), /^labels/);
    }
    // Desired images that name an unknown registry, that do not parse, that would share a tag.
    refused(await tower.api.post(SITE_IMAGES, { name: 'bad', sites: '*', images: [{ image: 'unknown.example.com/apps/kettle:v1' }] }),
      /^images\[0\]\.image: 'unknown\.example\.com\/apps\/kettle:v1' names registry 'unknown\.example\.com', which is not a configured remote registry/);
    refused(await tower.api.post(SITE_IMAGES, { name: 'bad', sites: '*', images: [{ image: 'apps/kettle:v1' }] }), /^images\[0\]\.image: .*name the remote registry first/);
    refused(await tower.api.post(SITE_IMAGES, { name: 'bad', sites: '*', images: [{ image: image('apps/kettle:v1') }, { image: image('apps/popper:v1'), to: 'apps/kettle:v1' }] }),
      /^images\[1\]: lands on apps\/kettle:v1 like images\[0\]/);
    refused(await tower.api.post(SITE_IMAGES, { name: 'bad', sites: '*', images: [{ image: image('apps/kettle:v1'), platform: 'linux/amd64', 'all-platforms': true }] }), /^images\[0\]\.platform: not with all-platforms/);
    refused(await tower.api.post(`${SITE_IMAGES}?validate=true`, { name: 'bad', sites: '*', images: [] }), /^images: /);
    // The two `site` selections at once.
    refused(await tower.api.post(`/v1/state/image-registry/remote-registries/${registry.address}/verify-credentials?sites=*&site=a`, {}), /'site' and 'sites' cannot be combined/);
    // A selector naming a site the tower does not have is a typo: 404, nothing run.
    const typo = await tower.api.post(`/v1/state/image-registry/remote-registries/${registry.address}/verify-credentials?sites=name%3Dzz`, {});
    assert.equal(typo.status, 404, typo.text);
    assert.match(errorMessage(typo), /names 'zz', not in \/v1\/config\/sites/);
    assert.deepEqual({ sites: (await tower.api.get('/v1/config/sites')).text, images: (await tower.api.get(SITE_IMAGES)).text }, before);
  });

  it('desired images for region=eu reach exactly a and b, and readiness aggregates to 2 of 2', async () => {
    const created = await tower.api.put(`${SITE_IMAGES}/eu-apps`, {
      name: 'eu-apps',
      sites: 'region=eu',
      images: [{ image: image('apps/kettle:v1') }, { image: image('apps/popper:v1'), to: 'shop/popper:stable' }],
    });
    assert.equal(created.status, 201, created.text);
    const state = await until('eu-apps', { a: 'ready', b: 'ready' });
    assert.equal(state['selected-sites'], 2);
    assert.equal(state['ready-sites'], 2);
    assert.equal(state.summary, '2 of 2 selected sites ready');
    for (const site of state['site-states']) {
      assert.equal(site.connected, true);
      assert.deepEqual(site.images!.map((i) => [i.image, i.state, i.digest, i.target]), [
        [image('apps/kettle:v1'), 'ready', kettle.digest, 'apps/kettle:v1'],
        [image('apps/popper:v1'), 'ready', popper.digest, 'shop/popper:stable'],
      ]);
      for (const i of site.images!) assert.ok(i.bytes! > kettle.bytes.length, `${site.site} reports the image's bytes (${i.bytes})`);
    }
    assert.deepEqual(await tagsAt(sites.a, 'apps/kettle'), { v1: kettle.digest });
    assert.deepEqual(await tagsAt(sites.b, 'shop/popper'), { stable: popper.digest });
    assert.deepEqual(await repositoriesAt('c'), [], 'site c (region us) holds nothing');
    // The site pulled through the pull machinery: its pulls are tracked operations like any other.
    const pulls = await tower.api.get('/v1/state/image-registry/pulls?site=a&fields=image;target;state');
    assert.equal(pulls.status, 200, pulls.text);
    for (const expected of [{ image: 'apps/kettle:v1', target: 'apps/kettle:v1', state: 'done' }, { image: 'apps/popper:v1', target: 'shop/popper:stable', state: 'done' }]) {
      assert.ok((pulls.body as object[]).some((p) => JSON.stringify(p) === JSON.stringify(expected)), `${JSON.stringify(expected)} in ${pulls.text}`);
    }
    // A site shows its own part: itself, ready.
    const atA = await sites.a.api.get(`${SITE_IMAGES_STATE}/eu-apps?fields=summary;site-states(site;state)`);
    assert.deepEqual(atA.body, { summary: '1 of 1 selected sites ready', 'site-states': [{ site: 'a', state: 'ready' }] });
    const atC = await tower.api.get(`${SITE_IMAGES_STATE}/eu-apps?site=c&fields=summary`);
    assert.deepEqual(atC.body, { summary: '0 of 0 selected sites ready' });
    // While desired, the image cannot be deleted at the site (nor then collected).
    const kept = await tower.api.delete(`${REPOSITORIES}/apps%2Fkettle/tags/v1?site=a`);
    assert.equal(kept.status, 409, kept.text);
    assert.match(errorMessage(kept), /apps\/kettle:v1 is kept: it is desired at this site by site-images 'eu-apps'/);
    const keptImage = await sites.b.api.delete(`${REPOSITORIES}/shop%2Fpopper/images/${popper.digest}`);
    assert.equal(keptImage.status, 409, keptImage.text);
  });

  it('an image that does not exist fails on its own: the others of the group stay ready, and it is retried', async () => {
    const patched = await tower.api.patch(`${SITE_IMAGES}/eu-apps`, { images: [{ image: image('apps/kettle:no-such-tag'), to: 'apps/kettle:missing' }] });
    assert.equal(patched.status, 204, patched.text);
    const state = await until('eu-apps', { a: 'failed', b: 'failed' });
    assert.equal(state['ready-sites'], 0);
    for (const site of state['site-states']) {
      const byImage = Object.fromEntries(site.images!.map((i) => [i.image, i]));
      assert.equal(byImage[image('apps/kettle:v1')]!.state, 'ready');
      assert.equal(byImage[image('apps/popper:v1')]!.state, 'ready');
      const failed = byImage[image('apps/kettle:no-such-tag')]!;
      assert.equal(failed.state, 'failed');
      assert.match(failed['last-error']!, /no-such-tag/);
    }
    const failing = await eventually('a second attempt at the missing tag', async () => {
      const site = (await stateOf('eu-apps'))['site-states'].find((s) => s.site === 'a')!;
      const missing = site.images!.find((i) => i.image === image('apps/kettle:no-such-tag')) as { attempts?: number } | undefined;
      return (missing?.attempts ?? 0) >= 2 ? missing : undefined;
    });
    assert.ok(failing);
    // Taken out again (a JSON Patch removes the list entry), the group is ready again.
    const removed = await tower.api.patch(`${SITE_IMAGES}/eu-apps`, [{ op: 'remove', path: '/images/2' }], { contentType: 'application/json-patch+json' });
    assert.equal(removed.status, 204, removed.text);
    await until('eu-apps', { a: 'ready', b: 'ready' });
  });

  it('a site down during a rollout shows as unknown with its last contact, and catches up when it returns', async () => {
    await sites.b.stop();
    const quiet = await until('eu-apps', { a: 'ready', b: 'unknown' });
    const b = quiet['site-states'].find((s) => s.site === 'b')!;
    assert.equal(b.connected, false);
    assert.ok(b['last-contact'], 'an unknown site shows when it was last in contact');
    assert.equal(b['reported-state'], 'ready', 'and what it last said, which is not counted');
    assert.equal(quiet['ready-sites'], 1);

    const rollout = await tower.api.put(`${SITE_IMAGES}/eu-v2`, { name: 'eu-v2', sites: 'region=eu', images: [{ image: image('apps/kettle:v2') }] });
    assert.equal(rollout.status, 201, rollout.text);
    const partial = await until('eu-v2', { a: 'ready', b: 'unknown' });
    assert.equal(partial.summary, '1 of 2 selected sites ready');
    assert.equal(partial['site-states'].find((s) => s.site === 'b')!['reported-state'], undefined, 'b never reported on eu-v2');

    await sites.b.start();
    await until('eu-v2', { a: 'ready', b: 'ready' });
    assert.deepEqual(await tagsAt(sites.b, 'apps/kettle'), { v1: kettle.digest, v2: kettleV2.digest });
  });

  it('the tower keeps reports in memory: after a restart every site reports again at its first contact', async () => {
    await tower.stop();
    await tower.start();
    const state = await until('eu-apps', { a: 'ready', b: 'ready' });
    assert.ok(state['site-states'].every((s) => s.connected));
  });

  it('changing the selector adds a site and releases two: their images stay, no longer kept', async () => {
    const patched = await tower.api.patch(`${SITE_IMAGES}/eu-apps`, { sites: 'region=us' });
    assert.equal(patched.status, 204, patched.text);
    await until('eu-apps', { c: 'ready' });
    assert.deepEqual(await tagsAt(sites.c, 'apps/kettle'), { v1: kettle.digest });
    // Released, not deleted: a still holds the image, and now a deletion of it goes through.
    const deleted = await eventually('site a releasing apps/kettle:v1', async () => {
      const res = await tower.api.delete(`${REPOSITORIES}/apps%2Fkettle/tags/v1?site=a`);
      return res.status === 204 ? res : undefined;
    });
    assert.equal(deleted.status, 204);
    assert.deepEqual(await tagsAt(sites.a, 'apps/kettle'), { v2: kettleV2.digest }, 'v2 is still desired by eu-v2');
    assert.deepEqual(await tagsAt(sites.a, 'shop/popper'), { stable: popper.digest }, 'released images are not deleted by Berth');
  });

  it('fan-out verify-credentials with a site down: one document with each site\'s result and a summary', async () => {
    await sites.c.stop();
    const res = await tower.api.post(`/v1/state/image-registry/remote-registries/${registry.address}/verify-credentials?sites=*`, { image: 'apps/kettle:v1' });
    assert.equal(res.status, 200, res.text);
    const answer = res.body as { summary: Record<string, unknown>; results: { site: string; outcome: string; status?: number; body?: unknown; 'error-message'?: string; 'error-info'?: { kind?: string } }[] };
    assert.deepEqual({ ...answer.summary, 'duration-ms': 0 }, { selector: '*', sites: 3, ok: 2, failed: 0, unreachable: 1, 'duration-ms': 0 });
    assert.deepEqual(answer.results.map((r) => [r.site, r.outcome, r.status]), [['a', 'ok', 200], ['b', 'ok', 200], ['c', 'unreachable', undefined]]);
    assert.deepEqual(answer.results[0]!.body, { success: true, digest: kettle.digest });
    assert.match(answer.results[2]!['error-message']!, /site 'c' at http:\/\/127\.0\.0\.1:\d+ is unreachable: connection refused/);
    assert.equal(answer.results[2]!['error-info']!.kind, 'connect');

    // The same as NDJSON: a line per site as it answers, then the summary; every line as the contract says.
    const streamed = await fetch(`${tower.berth.url}/v1/state/image-registry/remote-registries/${registry.address}/list-images?sites=region%3Deu`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tower.api.token}`, accept: 'application/x-ndjson', 'content-type': 'application/json' },
      body: JSON.stringify({ repository: 'apps/kettle', brief: true }),
    });
    assert.equal(streamed.status, 200);
    assert.match(streamed.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    const lines = (await streamed.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const isLine = validatorFor('#/components/schemas/FanOutLine');
    for (const line of lines) assert.ok(isLine(line), JSON.stringify(line));
    assert.deepEqual(lines.slice(0, -1).map((l) => l.site).sort(), ['a', 'b']);
    for (const line of lines.slice(0, -1)) assert.deepEqual(line.body, { images: [{ name: `${registry.address}/apps/kettle:v1` }, { name: `${registry.address}/apps/kettle:v2` }] });
    assert.deepEqual({ ...(lines.at(-1)!.summary as object), 'duration-ms': 0 }, { selector: 'region=eu', sites: 2, ok: 2, failed: 0, unreachable: 0, 'duration-ms': 0 });

    // A pull to a group, checked by each site's own registry; the site that is down is reported, not waited for.
    const pulled = await tower.api.post(`/v1/state/image-registry/pull?sites=*`, { image: image('apps/popper:v1'), to: 'fanout/popper:v1' });
    assert.equal(pulled.status, 200, pulled.text);
    const pulls = pulled.body as typeof answer;
    assert.deepEqual(pulls.results.map((r) => [r.site, r.outcome]), [['a', 'ok'], ['b', 'ok'], ['c', 'unreachable']]);
    assert.deepEqual(await tagsAt(sites.b, 'fanout/popper'), { v1: popper.digest });
    await sites.c.start();
  });

  it('fan-out: each site within its time limit, two at a time; sites that never answer are reported, not waited for', async () => {
    // Three sites at one server that takes requests and never answers; it counts how many it holds at once.
    let holding = 0;
    let mostAtOnce = 0;
    const held: ServerResponse[] = [];
    const silent = createServer((req, res) => {
      holding++;
      mostAtOnce = Math.max(mostAtOnce, holding);
      held.push(res);
      req.on('close', () => holding--);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      await vaultClient(tower.vault.addr, tower.vaultToken).write(`${SITE_TOKENS_MOUNT}/data/silent`, { data: { token: 'silent-site-token-0123456789' } });
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      for (const name of ['s1', 's2', 's3']) {
        const res = await tower.api.put(`/v1/config/sites/${name}`, { name, 'api-url': url, vault: SITE_TOKENS_MOUNT, secret: 'silent', labels: { silent: 'yes' } });
        assert.equal(res.status, 201, res.text);
      }
      const started = Date.now();
      const res = await tower.api.post(`/v1/state/image-registry/remote-registries/${registry.address}/verify-credentials?sites=silent`, {});
      const took = Date.now() - started;
      assert.equal(res.status, 200, res.text);
      const answer = res.body as { summary: { unreachable: number }; results: { site: string; outcome: string; 'error-message'?: string; 'error-info'?: { kind?: string }; 'duration-ms': number }[] };
      assert.equal(answer.summary.unreachable, 3);
      for (const result of answer.results) {
        assert.equal(result.outcome, 'unreachable');
        assert.equal(result['error-info']?.kind, 'timeout');
        assert.match(result['error-message']!, new RegExp(`site '${result.site}' gave no answer within 3 s`));
        assert.ok(result['duration-ms'] >= 2_900, `${result.site} was given its 3 s (${result['duration-ms']} ms)`);
      }
      assert.equal(mostAtOnce, 2, 'two sites at a time (BERTH_FANOUT_CONCURRENCY=2)');
      assert.ok(took >= 5_800, `three sites, two at a time, 3 s each: two rounds (${took} ms)`);
    } finally {
      for (const res of held) res.destroy();
      silent.close();
      for (const name of ['s1', 's2', 's3']) await tower.api.delete(`/v1/config/sites/${name}`);
    }
  });

  it('a site is told its own labels only: c, given a new one, picks up a group that selects it by it', async () => {
    const labelled = await tower.api.patch('/v1/config/sites/c', { labels: { canary: 'yes' } });
    assert.equal(labelled.status, 204, labelled.text);
    const created = await tower.api.put(`${SITE_IMAGES}/canaries`, { name: 'canaries', sites: 'canary', images: [{ image: image('apps/kettle:v2'), to: 'canary/kettle:v2' }] });
    assert.equal(created.status, 201, created.text);
    await until('canaries', { c: 'ready' });
    assert.deepEqual(await tagsAt(sites.c, 'canary/kettle'), { v2: kettleV2.digest });
    // The other sites' entries never reach c: its copy of the sites list stays empty.
    assert.deepEqual((await sites.c.api.get('/v1/config/sites')).body, []);
  });
});
