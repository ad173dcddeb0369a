// /metrics of a real Berth, read with Prometheus's own checker (promtool) and a strict sample reader: who may scrape,
// and that the counters move as the work happens: requests by route template (never the raw path) and /v2 route shape,
// pulls against a real docker-registry behind a proxy that holds blob bodies (so identical and overlapping pulls
// meet), bytes fetched against found in the store, the site registry's store and garbage collection, the secret store
// (vault-dev: reads, errors by kind, sealed), the config store, and sites (per-site series up to the cap, then
// aggregates; forwarded requests by site and status). No label holds a token, a secret, a raw path or a repository.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { startRegistryProxy, type RegistryProxy } from '../helpers/registry-proxy.js';
import { startVaultDev, type VaultDevInstance } from '../helpers/vault-dev.js';
import { buildSinglePlatformImage, pushImage, type BuiltImage } from '../helpers/oci-images.js';
import { randomSecret, registerSecretValue, vaultClient, writeRegistrySecret } from '../helpers/secret-values.js';
import { createCertificateAuthority, type CertificateAuthority } from '../helpers/tls.js';
import { eventually } from '../helpers/eventually.js';
import { hasSeries, parseSamples, promtoolCheck, valueOf, type Sample } from '../helpers/prometheus.js';

const REGISTRIES = '/v1/config/image-registry/remote-registries';
const REMOTES = '/v1/state/image-registry/remote-registries';
const VAULT_ROOT_TOKEN = `metrics-vault-root-${Math.random().toString(36).slice(2)}`;
const REGISTRY_PASSWORD = randomSecret('metrics-registry');
/** Configured with the proxy as its override-address: its blob bodies can be held. */
const GATED = 'gated.registry.test:5000';
const SOURCE_REPOSITORY = 'secretive-team/kettle';

let ca: CertificateAuthority;
let registry: RunningRegistry;
let proxy: RegistryProxy;
let vault: VaultDevInstance;
let image: BuiltImage;
let berth: BerthProcess;
let admin: Api;
/** /metrics is outside the contract: read without the contract check of `admin`. */
let plain: Api;
let reader: Api;
let readToken: string;

/** One scrape with the read token: checked by promtool, read sample by sample, and searched for what must not be there. */
async function scrape(): Promise<Sample[]> {
  const res = await reader.get('/metrics');
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = res.text;
  const check = await promtoolCheck(text);
  // promtool parses first (a parse error is exit 1 and says so), then lints; prom-client's own Node.js gauges named
  // `nodejs_active_*_total` draw a naming lint, nothing of Berth's may.
  assert.ok(check.code === 0 || check.code === 3, `promtool: ${check.output}`);
  assert.doesNotMatch(check.output, /error while linting|parsing error/);
  const problems = check.output.split('\n').filter((line) => line.trim() !== '');
  assert.deepEqual(problems.filter((line) => !/^nodejs_active_\w+_total /.test(line)), [], 'promtool lints nothing of Berth');
  for (const forbidden of [readToken, berth.adminToken, SOURCE_REPOSITORY, 'metrics-a', 'metrics-upload', 'missing.example.com', '/nowhere']) {
    assert.ok(!text.includes(forbidden), `'${forbidden.slice(0, 24)}' appears in /metrics`);
  }
  return parseSamples(text);
}

before(async () => {
  ca = createCertificateAuthority('Metrics Test CA');
  [registry, vault, image] = await Promise.all([
    startDockerRegistry({ auth: { kind: 'htpasswd', users: { puller: REGISTRY_PASSWORD } }, ca }),
    startVaultDev({ rootToken: VAULT_ROOT_TOKEN }),
    buildSinglePlatformImage({ seed: 'metrics-kettle', layerSizes: [64 * 1024, 256 * 1024] }),
  ]);
  registerSecretValue(VAULT_ROOT_TOKEN);
  const kv = vaultClient(vault.addr, VAULT_ROOT_TOKEN);
  await kv.mount({ mount_point: 'myvault', type: 'kv', options: { version: '2' } });
  await writeRegistrySecret(kv, 'myvault', 'login', { username: 'puller', password: REGISTRY_PASSWORD });
  proxy = await startRegistryProxy({ port: registry.port, caCertPem: registry.caCertPem }, ca);
  await pushImage(image, { address: registry.address, caCertPem: ca.certPem, username: 'puller', password: REGISTRY_PASSWORD }, SOURCE_REPOSITORY, 'v1');
  berth = await startBerth({
    env: { VAULT_ADDR: vault.addr, VAULT_TOKEN: VAULT_ROOT_TOKEN, BERTH_SITES_ALLOW_HTTP: 'true', BERTH_METRICS_SITE_SERIES: '2' },
  });
  admin = new Api(berth.url, berth.adminToken, assertMatchesContract);
  const made = await admin.post('/v1/config/system/tokens', { name: 'scraper', role: 'read' });
  readToken = (made.body as { token: string }).token;
  registerSecretValue(readToken);
  plain = new Api(berth.url, berth.adminToken);
  reader = plain.withToken(readToken);
  const login = [{ repository: '*', vault: 'myvault', secret: 'login' }];
  for (const remote of [
    { address: GATED, 'override-address': proxy.address, 'ca-cert': ca.certPem, credentials: login },
    { address: 'no-secret.registry.test:5000', 'override-address': registry.address, 'ca-cert': ca.certPem, credentials: [{ repository: '*', vault: 'myvault', secret: 'absent' }] },
  ]) {
    const created = await admin.post(REGISTRIES, remote);
    assert.equal(created.status, 201, created.text);
  }
});

after(async () => {
  // Everything started is stopped before Berth's exit code is checked: when `before` failed part way (no Berth),
  // a vault-dev left running kept the test file from ever ending.
  const exitCode = await berth?.stop();
  await Promise.all([proxy?.stop(), registry?.stop(), vault?.stop()]);
  image?.remove();
  if (ca) rmSync(ca.dir, { recursive: true, force: true });
  if (berth) assert.equal(exitCode, 0);
});

describe('/metrics', () => {
  it('needs a token of a role that reads: none is 401, a site token 403, read 200', async () => {
    assert.equal((await plain.get('/metrics', { token: null })).status, 401);
    assert.equal((await plain.get('/metrics', { token: 'not-a-token-of-berth' })).status, 401);
    const site = await admin.post('/v1/config/system/tokens', { name: 'edge-feed', role: 'site', site: 'edge' });
    const siteToken = (site.body as { token: string }).token;
    registerSecretValue(siteToken);
    const refused = await plain.get('/metrics', { token: siteToken });
    assert.equal(refused.status, 403, refused.text);
    assert.match(refused.text, /role 'site' may not GET \/metrics/);
    // This first scrape loads prom-client (src/metrics/metrics.ts): its event loop monitor has figures already.
    const first = await scrape();
    const lag = (name: string) => valueOf(first, `nodejs_eventloop_lag_${name}_seconds`);
    assert.ok(Number.isFinite(lag('mean')) && lag('min') <= lag('mean') && lag('mean') <= lag('max') && lag('max') < 60, `event loop lag min ${lag('min')} mean ${lag('mean')} max ${lag('max')}`);
  });

  it('counts requests by route template (never the raw path), method and status; /v2 by route shape; times them', async () => {
    const before = await scrape();
    const template = '/v1/config/image-registry/remote-registries/{remote-registry-address}';
    assert.equal((await admin.get(`${REGISTRIES}/${encodeURIComponent(GATED)}`)).status, 200);
    assert.equal((await admin.get(`${REGISTRIES}/missing.example.com`)).status, 404);
    assert.equal((await admin.get(`${REGISTRIES}/missing.example.com`, { token: null })).status, 401);
    assert.equal((await fetch(`${berth.url}/v2/metrics-a/tags/list`)).status, 401);
    assert.equal((await fetch(`${berth.url}/nowhere`)).status, 404);
    assert.equal((await fetch(`${berth.url}/healthz`)).status, 200);
    const now = await scrape();
    const moved = (labels: Record<string, string>) => valueOf(now, 'berth_http_requests_total', labels) - valueOf(before, 'berth_http_requests_total', labels);
    assert.equal(moved({ route: template, method: 'GET', status: '200' }), 1);
    assert.equal(moved({ route: template, method: 'GET', status: '404' }), 1);
    assert.equal(moved({ route: template, method: 'GET', status: '401' }), 1);
    assert.equal(moved({ route: '/v2/{name}/tags/list', method: 'GET', status: '401' }), 1);
    assert.equal(moved({ route: 'unmatched', method: 'GET', status: '404' }), 1);
    assert.equal(moved({ route: '/healthz', method: 'GET', status: '200' }), 1);
    assert.equal(moved({ route: '/metrics', method: 'GET', status: '200' }), 1, 'the scrape before');
    const timed = (s: Sample[]) => valueOf(s, 'berth_http_request_duration_seconds_count', { route: template, method: 'GET' });
    assert.equal(timed(now) - timed(before), 3);
    assert.ok(hasSeries(now, 'berth_http_requests_in_flight'));
    assert.equal(valueOf(now, 'berth_http_requests_in_flight'), 1, 'the scrape itself');
  });

  it('counts pulls started and finished, joins, bytes fetched and found in the store, transfer times; the store and GC', async () => {
    const blobs = [image.manifests[0]!.config, ...image.manifests[0]!.layers];
    const blobBytes = blobs.reduce((sum, b) => sum + b.size, 0);
    const before = await scrape();
    const pull = (to: string) => admin.post(`${REMOTES}/${GATED}/pull`, { image: `${SOURCE_REPOSITORY}:v1`, to: `${to}:v1` });
    // Held blob bodies: an identical pull joins the first; a pull of the same image elsewhere shares its transfers.
    proxy.behaviour = { kind: 'gate' };
    const first = pull('metrics-a');
    await proxy.waitForBlobRequests(1);
    const identical = pull('metrics-a');
    const overlapping = pull('metrics-b');
    await eventually('both pulls joined', async () => {
      const s = await scrape();
      const joins = (level: string) => valueOf(s, 'berth_pull_single_flight_joins_total', { registry: GATED, level }) - valueOf(before, 'berth_pull_single_flight_joins_total', { registry: GATED, level });
      return joins('pull') === 1 && joins('blob') === blobs.length;
    });
    proxy.release();
    for (const res of await Promise.all([first, identical, overlapping])) assert.equal(res.status, 200, res.text);
    proxy.behaviour = { kind: 'pass' };
    assert.equal((await pull('metrics-c')).status, 200);
    const missing = await admin.post(`${REMOTES}/${GATED}/pull`, { image: `${SOURCE_REPOSITORY}:no-such-tag` });
    assert.notEqual(missing.status, 200);

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
    assert.equal(moved('berth_pulls_started_total', { registry: GATED }), 4, 'the identical pull started none');
    assert.equal(moved('berth_pulls_finished_total', { registry: GATED, outcome: 'done' }), 3);
    assert.equal(moved('berth_pulls_finished_total', { registry: GATED, outcome: 'failed', error_kind: 'not-found' }), 1);
    assert.equal(moved('berth_pull_blob_bytes_total', { registry: GATED, source: 'fetched' }), blobBytes, 'each blob fetched once');
    assert.equal(moved('berth_pull_blob_bytes_total', { registry: GATED, source: 'store' }), blobBytes, 'the last pull found every blob');
    assert.equal(moved('berth_pull_blob_transfer_duration_seconds_count', { registry: GATED, outcome: 'done' }), blobs.length);
    assert.ok(!after.some((s) => 'repository' in s.labels), 'no repository label without BERTH_METRICS_REPOSITORY_LABELS');
    assert.equal(valueOf(after, 'berth_site_registry_stored_blobs'), blobs.length + 1, 'the blobs and the manifest');
    assert.equal(valueOf(after, 'berth_site_registry_stored_bytes'), blobBytes + image.bytes.length);
    assert.equal(valueOf(after, 'berth_site_registry_uploads_in_flight'), 0);

    for (const repository of ['metrics-a', 'metrics-b', 'metrics-c']) {
      assert.equal((await admin.delete(`/v1/state/image-registry/repositories/${repository}/images/${image.digest}`)).status, 204);
    }
    const collected = await admin.post('/v1/state/image-registry/garbage-collect', { 'grace-period-seconds': 0 });
    assert.equal(collected.status, 200, collected.text);
    const swept = await scrape();
    assert.equal(valueOf(swept, 'berth_site_registry_gc_runs_total') - valueOf(after, 'berth_site_registry_gc_runs_total'), 1);
    assert.equal(valueOf(swept, 'berth_site_registry_gc_freed_bytes_total') - valueOf(after, 'berth_site_registry_gc_freed_bytes_total'), blobBytes + image.bytes.length);
    assert.equal(valueOf(swept, 'berth_site_registry_stored_bytes'), 0);
    assert.equal(valueOf(swept, 'berth_site_registry_stored_blobs'), 0);
  });

  it('uploads in flight: a /v2 upload session open counts until it is cancelled', async () => {
    const headers = { authorization: `Bearer ${berth.adminToken}` };
    const started = await fetch(`${berth.url}/v2/metrics-upload/blobs/uploads/`, { method: 'POST', headers });
    assert.equal(started.status, 202);
    assert.equal(valueOf(await scrape(), 'berth_site_registry_uploads_in_flight'), 1);
    const cancelled = await fetch(new URL(started.headers.get('location')!, berth.url), { method: 'DELETE', headers });
    assert.equal(cancelled.status, 204);
    const after = await scrape();
    assert.equal(valueOf(after, 'berth_site_registry_uploads_in_flight'), 0);
    assert.equal(valueOf(after, 'berth_http_requests_total', { route: '/v2/{name}/blobs/uploads/{session}', method: 'DELETE', status: '204' }), 1);
  });

  it('the config store: its revision, and its write latency by outcome', async () => {
    const before = await scrape();
    const writes = (s: Sample[], outcome: string) => valueOf(s, 'berth_config_store_write_duration_seconds_count', { engine: 'sqlite', outcome });
    assert.equal((await admin.post(REGISTRIES, { address: 'counted.example.com' })).status, 201);
    assert.equal((await admin.post(REGISTRIES, { address: 'counted.example.com' })).status, 409);
    const revision = ((await admin.get('/v1/state/system/replication')).body as { 'replicated-revision': number })['replicated-revision'];
    const after = await scrape();
    assert.equal(valueOf(after, 'berth_config_store_revision'), revision);
    assert.equal(writes(after, 'ok') - writes(before, 'ok'), 1);
    assert.equal(writes(after, 'refused') - writes(before, 'refused'), 1);
  });

  it('sites: per-site series up to BERTH_METRICS_SITE_SERIES, then only aggregates; forwarded requests by site and status', async () => {
    const addSite = async (name: string) => {
      const res = await admin.post('/v1/config/sites', { name, 'api-url': 'http://127.0.0.1:9', vault: 'myvault', secret: `site-${name}` });
      assert.equal(res.status, 201, res.text);
    };
    const forward = async (site: string) => assert.equal((await admin.get(`/v1/state/image-registry/repositories?site=${site}`)).status, 503);
    await addSite('s1');
    await addSite('s2');
    const before = await scrape();
    assert.equal(valueOf(before, 'berth_sites', { state: 'disconnected' }), 2);
    assert.equal(valueOf(before, 'berth_sites', { state: 'connected' }), 0);
    assert.ok(hasSeries(before, 'berth_site_connected', { site: 's1' }) && hasSeries(before, 'berth_site_connected', { site: 's2' }));
    await forward('s1');
    await forward('s1');
    assert.equal((await admin.get('/v1/state/image-registry/repositories?site=nowhere')).status, 404);
    await addSite('s3');
    await forward('s3');
    await forward('s2');
    const after = await scrape();
    assert.equal(valueOf(after, 'berth_sites', { state: 'disconnected' }), 3);
    assert.ok(!hasSeries(after, 'berth_site_connected'), 'three sites are over the cap of two: aggregates only');
    assert.ok(!hasSeries(after, 'berth_site_replication_lag_revisions'));
    const forwarded = (site: string) => valueOf(after, 'berth_site_forwarded_requests_total', { site, status: 'unreachable' });
    assert.deepEqual([forwarded('s1'), forwarded('s3'), forwarded('other'), forwarded('nowhere')], [2, 1, 1, 0]);
  });

  it('the secret store: read latency, errors by kind, and sealed', async () => {
    const before = await scrape();
    assert.equal(valueOf(before, 'berth_secret_store_sealed'), 0);
    assert.equal(valueOf(before, 'berth_secret_store_state', { state: 'unsealed' }), 1);
    const verified = await admin.post(`${REMOTES}/no-secret.registry.test:5000/verify-credentials`, {});
    assert.equal(verified.status, 200, verified.text);
    assert.equal((verified.body as { 'error-type'?: string })['error-type'], 'secret-missing');
    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
    assert.equal(moved('berth_secret_store_errors_total', { kind: 'secret-missing' }), 1);
    assert.equal(moved('berth_secret_store_read_duration_seconds_count', { outcome: 'error' }), 1);
    assert.ok(valueOf(after, 'berth_secret_store_read_duration_seconds_count', { outcome: 'ok' }) >= 1, 'the pulls read the registry login');

    await vaultClient(vault.addr, VAULT_ROOT_TOKEN).seal();
    // The seal monitor polls every 2 s; /metrics is outside /v1 and answers while the API answers 503.
    const sealed = await eventually('the scrape shows the store sealed', async () => {
      const s = await scrape();
      return valueOf(s, 'berth_secret_store_sealed') === 1 && s;
    });
    assert.equal(valueOf(sealed, 'berth_secret_store_state', { state: 'sealed' }), 1);
    assert.equal((await admin.get(REGISTRIES)).status, 503);
  });
});
