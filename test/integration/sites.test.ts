// A control tower and two sites, each a Berth process on loopback with its own data directory, store and vault-dev,
// and a real docker-registry (TLS, htpasswd). Configuration flows from the tower to both sites and survives a site
// being down (and killed) while it changes; `?site=` carries state reads and operations out at a site with that
// site's secrets; with the tower down the sites still serve from their own copy. Every answer is checked against
// the contract and for leaked secrets.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { errorMessage, type Api, type ApiResponse } from '../helpers/api.js';
import { closeAll, converged, replicationState, startSite, startTower, SITE_TOKENS_MOUNT, type RunningSite, type RunningTower } from '../helpers/berth-site.js';
import { eventually } from '../helpers/eventually.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { freePort } from '../helpers/free-port.js';
import { buildSinglePlatformImage, pushImage, type BuiltImage } from '../helpers/oci-images.js';
import { randomSecret, vaultClient, writeRegistrySecret } from '../helpers/secret-values.js';
import { skopeoInspectRaw } from '../helpers/skopeo.js';
import { createCertificateAuthority, type CertificateAuthority } from '../helpers/tls.js';
import { hasSeries, parseSamples, valueOf } from '../helpers/prometheus.js';

const REGISTRIES = '/v1/config/image-registry/remote-registries';
const REGISTRY_STATES = '/v1/state/image-registry/remote-registries';
const REPOSITORIES = '/v1/state/image-registry/repositories';
const IMAGE = 'apps/kettle';

/** The registry's login, and the wrong password site a holds for the registry-wide (`*`) credentials. */
const RIGHT_PASSWORD = randomSecret('sites-registry-right');
const WRONG_PASSWORD = randomSecret('sites-registry-wrong');
const PUSH_PASSWORD = randomSecret('sites-registry-push');

let ca: CertificateAuthority;
let registry: RunningRegistry;
let image: BuiltImage;
let tower: RunningTower;
let siteA: RunningSite;
let siteB: RunningSite;

const inspect = (method: string, path: string, res: ApiResponse) => assertMatchesContract(method, path, res);

/** `*` reads the registry-wide secret `login`; `apps/...` its own secret `apps-login`. */
const credentials = [
  { repository: '*', vault: 'registry-secrets', secret: 'login' },
  { repository: 'apps', vault: 'registry-secrets', secret: 'apps-login' },
];

async function siteSecrets(site: RunningSite, loginPassword: string): Promise<void> {
  const kv = vaultClient(site.vault!.addr, site.vaultToken!);
  await kv.mount({ mount_point: 'registry-secrets', type: 'kv', options: { version: '2' } });
  await writeRegistrySecret(kv, 'registry-secrets', 'login', { username: 'puller', password: loginPassword });
  await writeRegistrySecret(kv, 'registry-secrets', 'apps-login', { username: 'puller', password: RIGHT_PASSWORD });
}

const configOf = async (api: Api): Promise<unknown> => {
  const res = await api.get(REGISTRIES);
  assert.equal(res.status, 200, res.text);
  return res.body;
};

const towerRevision = async () => (await replicationState(tower.api))['replicated-revision']!;

/** Site `site`'s /v2 for skopeo: plain HTTP on loopback, the site's admin token as the Basic password. */
const siteImage = (site: RunningSite, name: string) => `docker://${site.url.replace('http://', '')}/${name}`;
const siteCreds = (site: RunningSite) => ({ tlsVerify: false, creds: { username: 'x', password: site.api.token } });

before(async () => {
  ca = createCertificateAuthority('Berth Sites Test CA');
  const started = await Promise.all([
    startDockerRegistry({ ca, auth: { kind: 'htpasswd', users: { puller: RIGHT_PASSWORD, pusher: PUSH_PASSWORD } } }),
    buildSinglePlatformImage({ seed: 'sites-kettle' }),
    startTower({ inspect }),
  ]);
  [registry, image, tower] = started;
  [siteA, siteB] = await Promise.all([startSite(tower, 'a', { vault: true, inspect }), startSite(tower, 'b', { vault: true, inspect })]);
  await Promise.all([
    siteSecrets(siteA, WRONG_PASSWORD),
    siteSecrets(siteB, RIGHT_PASSWORD),
    pushImage(image, { address: registry.address, caCertPem: ca.certPem, username: 'pusher', password: PUSH_PASSWORD }, IMAGE, 'v1'),
  ]);
});

after(async () => {
  try {
    await closeAll([() => siteA?.close(), () => siteB?.close(), () => tower?.close(), () => registry?.stop()]);
  } finally {
    image?.remove();
    if (ca) rmSync(ca.dir, { recursive: true, force: true });
  }
});

describe('sites', () => {
  it('registries configured at the tower appear at both sites, at the tower revision', async () => {
    const created = await tower.api.post(REGISTRIES, { address: registry.address, 'ca-cert': ca.certPem, credentials });
    assert.equal(created.status, 201, created.text);
    const revision = await towerRevision();
    assert.equal(await converged(tower, siteA), revision);
    assert.equal(await converged(tower, siteB), revision);
    const atTower = await configOf(tower.api);
    assert.deepEqual(await configOf(siteA.api), atTower);
    assert.deepEqual(await configOf(siteB.api), atTower);
    // Each records its own author: the tower the caller, a site its replication.
    const authorAt = async (api: typeof tower.api) => ((await api.get(`${REGISTRY_STATES}/${registry.address}?fields=last-change-by(kind;name)`)).body as Record<string, unknown>)['last-change-by'];
    assert.deepEqual(await authorAt(tower.api), { kind: 'token', name: 'admin (BERTH_ADMIN_TOKEN)' });
    assert.deepEqual(await authorAt(siteA.api), { kind: 'system', name: 'tower' });
    // The audit trails: the tower's names the caller; a site's shows its copy as written by `tower`, read at the site or
    // through the tower (`?site=`).
    const audited = `${REGISTRIES}/${registry.address}`;
    const latestAt = async (api: Api, query = '') => ((await api.get(`/v1/state/system/audit?limit=1&path=${audited}${query}`)).body as Record<string, unknown>[])[0]!;
    const who = ({ principal, 'principal-kind': kind, method, path, site }: Record<string, unknown>) => ({ principal, kind, method, path, site });
    assert.deepEqual(who(await latestAt(tower.api)), { principal: 'admin (BERTH_ADMIN_TOKEN)', kind: 'token', method: 'POST', path: audited, site: 'control-tower' });
    const atSite = await latestAt(siteA.api);
    assert.deepEqual(who(atSite), { principal: 'tower', kind: 'system', method: 'PUT', path: audited, site: 'a' });
    assert.equal(atSite['request-id'], undefined);
    assert.deepEqual(await latestAt(tower.api, '&site=a'), atSite);
    // Metrics: the tower sees both sites connected and caught up; each site follows its tower.
    const scrape = async (url: string, token: string) => parseSamples(await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text());
    const atTowerMetrics = await eventually('both sites show as connected in the tower\'s metrics', async () => {
      const samples = await scrape(tower.berth.url, tower.api.token);
      return valueOf(samples, 'berth_sites', { state: 'connected' }) === 2 && samples;
    });
    for (const site of ['a', 'b']) {
      assert.equal(valueOf(atTowerMetrics, 'berth_site_connected', { site }), 1, site);
      assert.ok(hasSeries(atTowerMetrics, 'berth_site_replication_lag_revisions', { site }), site);
    }
    const atSiteMetrics = await scrape(siteA.url, siteA.api.token);
    assert.equal(valueOf(atSiteMetrics, 'berth_replication_connected'), 1);
    assert.equal(valueOf(atSiteMetrics, 'berth_replication_lag_revisions'), 0);
    // Only the image-registry tree travels: the sites list and the tower's tokens stay at the tower.
    assert.deepEqual((await siteA.api.get('/v1/config/sites')).body, []);
    assert.deepEqual((await siteA.api.get('/v1/config/system/tokens?keys=true')).body, []);
  });

  it('a site answers configuration writes with 403 saying the tower manages them; reads and its own tokens stay', async () => {
    const path = `${REGISTRIES}/${registry.address}`;
    for (const res of [
      await siteA.api.post(REGISTRIES, { address: 'local.example.com' }),
      await siteA.api.put(path, { address: registry.address }),
      await siteA.api.patch(path, { 'override-address': 'elsewhere.example.com' }),
      await siteA.api.delete(path),
      await siteA.api.delete(`${path}?validate=true`),
      await siteA.api.post('/v1/config/sites', { name: 'c', 'api-url': 'http://127.0.0.1:1', vault: 'v', secret: 's' }),
    ]) {
      assert.equal(res.status, 403, res.text);
      assert.match(errorMessage(res), /configuration is managed by the control tower/);
    }
    assert.equal((await siteA.api.get(path)).status, 200);
    const token = await siteA.api.post('/v1/config/system/tokens', { name: 'local-reader', role: 'read' });
    assert.equal(token.status, 201, token.text);
  });

  it('verify-credentials?site= runs at that site with its own secrets', async () => {
    const verify = (query: string, body: unknown = {}) =>
      tower.api.post(`${REGISTRY_STATES}/${registry.address}/verify-credentials${query}`, body);
    const atA = await verify('?site=a');
    assert.equal(atA.status, 200, atA.text);
    assert.equal((atA.body as { success: boolean }).success, false, 'site a holds a wrong password for the registry');
    assert.equal((atA.body as { 'error-type': string })['error-type'], 'unauthorized');
    const atB = await verify('?site=b');
    assert.equal(atB.status, 200, atB.text);
    assert.deepEqual(atB.body, { success: true });
    // The repository's own secret is right at site a too.
    const imageAtA = await verify('?site=a', { image: `${IMAGE}:v1` });
    assert.deepEqual(imageAtA.body, { success: true, digest: image.digest });
    // The tower's own secret store holds no registry secret at all: run there, the same verification fails.
    const atTower = await verify('');
    assert.equal((atTower.body as { success: boolean }).success, false);
    assert.equal((atTower.body as { 'error-type': string })['error-type'], 'secret-missing');
    // Each outcome is kept in the state of the Berth that ran it: the image check at a, the plain one at b and here.
    const lastVerification = async (api: Api, query: string) =>
      (await api.get(`${REGISTRY_STATES}/${registry.address}?fields=last-verification(success;image;error-type)${query}`)).body;
    assert.deepEqual(await lastVerification(tower.api, '&site=a'), { 'last-verification': { success: true, image: `${IMAGE}:v1` } });
    assert.deepEqual(await lastVerification(siteB.api, ''), { 'last-verification': { success: true } });
    assert.deepEqual(await lastVerification(tower.api, ''), { 'last-verification': { success: false, 'error-type': 'secret-missing' } });
  });

  it('pull?site=a puts the image in site a\'s registry only', async () => {
    const pulled = await tower.api.post(`${REGISTRY_STATES}/${registry.address}/pull?site=a`, { image: `${IMAGE}:v1` });
    assert.equal(pulled.status, 200, pulled.text);
    assert.deepEqual(pulled.body, { name: `${IMAGE}:v1`, digest: image.digest, 'tag-updated': true });
    const raw = await skopeoInspectRaw(siteImage(siteA, `${IMAGE}:v1`), siteCreds(siteA));
    assert.deepEqual(raw, image.bytes, 'site a serves the manifest as pulled');
    await assert.rejects(skopeoInspectRaw(siteImage(siteB, `${IMAGE}:v1`), siteCreds(siteB)), /manifest unknown|name unknown|not found|404/i);
    const names = async (query: string) => (await tower.api.get(`${REPOSITORIES}?keys=true${query}`)).body;
    assert.deepEqual(await names('&site=a'), [IMAGE]);
    assert.deepEqual(await names('&site=b'), []);
    assert.deepEqual(await names(''), [], 'the tower\'s own registry has nothing');
  });

  it('forwards the site\'s answer as it is: status, body, Content-Type and YAML', async () => {
    const missing = await tower.api.get(`${REPOSITORIES}/no-such-repository?site=a`);
    assert.equal(missing.status, 404);
    assert.match(errorMessage(missing), /no-such-repository/);
    const yaml = await tower.api.get(`${REPOSITORIES}?site=a&fields=name`, { accept: 'application/yaml' });
    assert.equal(yaml.status, 200);
    assert.match(yaml.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.deepEqual(yaml.body, [{ name: IMAGE }]);
    const badBody = await tower.api.post(`${REGISTRY_STATES}/${registry.address}/pull?site=b`, { image: `${IMAGE}:v1`, unknown: true });
    assert.equal(badBody.status, 400, 'site b\'s contract rejects the body');
    assert.match(errorMessage(badBody), /unknown/);
  });

  it('site naming the tower is served by the tower; an unknown site is 404; an unreachable one 503 naming it', async () => {
    const own = await tower.api.get(`${REPOSITORIES}?keys=true&site=control-tower`);
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(own.body, []);
    const unknown = await tower.api.get(`${REPOSITORIES}?site=nowhere`);
    assert.equal(unknown.status, 404);
    assert.match(errorMessage(unknown), /unknown site 'nowhere'/);
    const closedPort = await freePort();
    const gone = await tower.api.put('/v1/config/sites/gone', { name: 'gone', 'api-url': `http://127.0.0.1:${closedPort}`, vault: SITE_TOKENS_MOUNT, secret: 'a' });
    assert.equal(gone.status, 201, gone.text);
    for (const res of [
      await tower.api.get(`${REPOSITORIES}?site=gone`),
      await tower.api.post(`${REGISTRY_STATES}/${registry.address}/verify-credentials?site=gone`, {}),
    ]) {
      assert.equal(res.status, 503, res.text);
      assert.match(errorMessage(res), /site 'gone' .* unreachable/);
      assert.ok(res.headers.get('retry-after'), 'Retry-After on an unreachable site');
    }
    const noSecret = await tower.api.put('/v1/config/sites/no-secret', { name: 'no-secret', 'api-url': siteA.url, vault: SITE_TOKENS_MOUNT, secret: 'missing' });
    assert.equal(noSecret.status, 201, noSecret.text);
    const withoutToken = await tower.api.get(`${REPOSITORIES}?site=no-secret`);
    assert.equal(withoutToken.status, 503);
    assert.match(errorMessage(withoutToken), /site 'no-secret'.*secret 'missing'/);
    for (const name of ['gone', 'no-secret']) assert.equal((await tower.api.delete(`/v1/config/sites/${name}`)).status, 204);
  });

  it('the tower lists its sites with their state: connected, last contact, replicated revision and lag', async () => {
    const revision = await converged(tower, siteB);
    await converged(tower, siteA);
    type SiteState = { name: string; connected: boolean; lag?: number; 'replicated-revision'?: number };
    const states = await eventually('both sites reporting the current revision', async () => {
      const res = await tower.api.get('/v1/state/sites?content=nonconfig');
      const list = res.body as SiteState[];
      return list.length === 2 && list.every((s) => s['replicated-revision'] === revision) ? list : undefined;
    });
    for (const state of states) {
      assert.deepEqual(Object.keys(state).sort(), ['connected', 'lag', 'last-contact', 'name', 'replicated-revision']);
      assert.equal(state.connected, true);
      assert.equal(state.lag, 0);
    }
    const one = await tower.api.get('/v1/state/sites/a?fields=name;api-url;connected');
    assert.deepEqual(one.body, { name: 'a', 'api-url': siteA.url, connected: true });
  });

  it('a site that was down while 50 changes were made converges to the tower\'s configuration and revision', async () => {
    await siteB.stop();
    const disconnected = await eventually('the tower seeing site b gone', async () => {
      const state = (await tower.api.get('/v1/state/sites/b')).body as { connected: boolean };
      return state.connected ? undefined : state;
    });
    assert.equal(disconnected.connected, false);
    // 50 changes: 20 registries created, 20 patched, 10 of them deleted, 10 of them replaced.
    const address = (i: number) => `registry-${i}.example.com:5000`;
    for (let i = 0; i < 20; i++) {
      const res = await tower.api.post(REGISTRIES, { address: address(i), credentials: [{ repository: '*', vault: 'kv', secret: `r${i}` }] });
      assert.equal(res.status, 201, res.text);
    }
    for (let i = 0; i < 20; i++) {
      const res = await tower.api.patch(`${REGISTRIES}/${address(i)}`, { 'override-address': `mirror-${i}.example.com` });
      assert.equal(res.status, 204, res.text);
    }
    for (let i = 0; i < 10; i++) assert.equal((await tower.api.delete(`${REGISTRIES}/${address(i)}`)).status, 204);
    for (let i = 10; i < 20; i++) {
      const res = await tower.api.put(`${REGISTRIES}/${address(i)}`, { address: address(i), 'ca-cert': ca.certPem });
      assert.equal(res.status, 204, res.text);
    }
    const lagging = (await tower.api.get('/v1/state/sites/b')).body as { lag: number };
    assert.ok(lagging.lag >= 50, `site b is ${lagging.lag} revisions behind`);

    await siteB.start();
    const revision = await towerRevision();
    assert.equal(await converged(tower, siteB), revision);
    assert.deepEqual(await configOf(siteB.api), await configOf(tower.api));
    assert.equal(await converged(tower, siteA), revision);
    assert.deepEqual(await configOf(siteA.api), await configOf(tower.api));
  });

  it('a site killed while changes stream in resumes from its durable revision without losing any', async () => {
    const address = (i: number) => `burst-${i}.example.com`;
    const writes = (async () => {
      for (let i = 0; i < 30; i++) assert.equal((await tower.api.post(REGISTRIES, { address: address(i) })).status, 201);
      for (let i = 0; i < 30; i += 2) assert.equal((await tower.api.delete(`${REGISTRIES}/${address(i)}`)).status, 204);
    })();
    // Killed once it has applied some of the burst, while the tower is still writing.
    await eventually('site a applying part of the burst', async () => {
      const res = await siteA.api.get(`${REGISTRIES}?keys=true`);
      return (res.body as string[]).some((k) => k.startsWith('burst-')) ? true : undefined;
    });
    await siteA.berth.kill();
    await writes;
    await siteA.start();
    const revision = await towerRevision();
    assert.equal(await converged(tower, siteA), revision);
    assert.deepEqual(await configOf(siteA.api), await configOf(tower.api));
  });

  it('with the tower down, both sites answer state requests and pull from their own copy', async () => {
    const expected = await configOf(tower.api);
    await tower.stop();
    for (const site of [siteA, siteB]) {
      const state = await eventually(`site ${site.name} noticing the tower is gone`, async () => {
        const s = await replicationState(site.api);
        return s.connected ? undefined : s;
      });
      assert.match(state['last-error'] ?? '', /./);
      const registries = await site.api.get(`${REGISTRY_STATES}?content=config`);
      assert.equal(registries.status, 200, registries.text);
      assert.deepEqual(registries.body, expected);
      assert.equal((await site.api.get(`${REGISTRIES}/${registry.address}`)).status, 200);
    }
    const pulled = await siteB.api.post(`${REGISTRY_STATES}/${registry.address}/pull`, { image: `${IMAGE}:v1`, to: 'offline/kettle:v1' });
    assert.equal(pulled.status, 200, pulled.text);
    assert.deepEqual(await skopeoInspectRaw(siteImage(siteB, 'offline/kettle:v1'), siteCreds(siteB)), image.bytes);

    await tower.start();
    for (const site of [siteA, siteB]) await converged(tower, site);
  });
});
