// Pull-through speed: containerd pulling a 100 MB, 4-layer image through Berth's site registry (the hosts.toml Berth
// generates) against pulling it directly from the docker-registry (TLS, loopback), in the same run; then the same
// pull with the registry behind a slow link (a throttling proxy), as an edge site meets a registry far away. Three cases,
// alternated, each with a fresh containerd (so it has nothing): direct; through Berth with nothing cached (Berth fetches
// and streams as it stores; its cache is emptied before each run); through Berth with everything cached. Each for
// `ctr content fetch` (the transfer alone) and `ctr images pull` (with the unpack a runtime does). Prints medians and
// the ratios to direct (goals: first pull <= 1.2x, cached <= 0.5x). Then what the registries themselves take to serve
// the four layers (three at a time, as containerd fetches them) to a plain HTTP client: docker-registry against
// Berth's cache, which is the part of a cached pull Berth decides; the rest is containerd's own ingest.
// Run: node --import tsx bench/pull-through.bench.ts   (about 1-2 minutes; needs containerd, docker-registry, skopeo)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth } from '../test/helpers/berth.js';
import { startContainerd, type RunningContainerd } from '../test/helpers/containerd.js';
import { startDockerRegistry } from '../test/helpers/docker-registry.js';
import { buildSinglePlatformImage, pushImage } from '../test/helpers/oci-images.js';
import { startRegistryProxy } from '../test/helpers/registry-proxy.js';
import { createCertificateAuthority } from '../test/helpers/tls.js';
import { Agent, request } from 'undici';
import { median, orStop, reportFigure } from './figures.js';

const MiB = 1024 * 1024;
// ctr reports on a 100 ms progress tick, so each time is rounded up to one: five runs make the median worth more.
const RUNS = 5;
/** The slow link: each blob response from the registry at most this fast (80 Mbit/s per connection: an edge uplink). */
const LINK_BYTES_PER_SECOND = 10 * MiB;
const UPSTREAM = 'registry.example.com';
const REFERENCE = `${UPSTREAM}/bench/app:v1`;

type Times = { direct: number[]; first: number[]; cached: number[] };

/** Prints one case (medians, ratios to direct, every run) and reports its ratios to `make bench`'s summary. */
function report(label: string, name: string, times: Times): void {
  const [d, f, c] = [median(times.direct), median(times.first), median(times.cached)];
  const runs = (values: number[]) => values.map((t) => t.toFixed(2)).join(', ');
  console.log(`${label}, 100 MB / 4 layers, median of ${RUNS}:`);
  console.log(`  direct from docker-registry   ${d.toFixed(2)} s   (runs: ${runs(times.direct)})`);
  console.log(`  through Berth, first pull     ${f.toFixed(2)} s   ratio ${(f / d).toFixed(2)}x (goal <= 1.2x)   (runs: ${runs(times.first)})`);
  console.log(`  through Berth, cached         ${c.toFixed(2)} s   ratio ${(c / d).toFixed(2)}x (goal <= 0.5x)   (runs: ${runs(times.cached)})`);
  const detail = (berth: number) => `Berth ${berth.toFixed(2)} s, direct from docker-registry ${d.toFixed(2)} s`;
  reportFigure({ name: `${name}: first pull, Berth / direct`, value: f / d, unit: 'x', goal: { op: '<=', target: 1.2 }, detail: detail(f) });
  reportFigure({ name: `${name}: cached pull, Berth / direct`, value: c / d, unit: 'x', goal: { op: '<=', target: 0.5 }, detail: detail(c) });
}

const work = mkdtempSync(join(tmpdir(), 'berth-pull-through-bench-'));
const registry = await startDockerRegistry({ auth: { kind: 'none' } });
const image = await orStop(registry, buildSinglePlatformImage({ seed: `pull-through-bench-${Date.now()}`, layerSizes: Array(4).fill(25 * MiB) }));
await orStop(registry, pushImage(image, { address: registry.address, caCertPem: registry.caCertPem }, 'bench/app', 'v1'));
const berth = await orStop(registry, startBerth({ env: { BERTH_REGISTRY_ANONYMOUS_PULL: 'true', BERTH_LOG_LEVEL: 'warn' } }));
const admin = { authorization: `Bearer ${berth.adminToken}`, 'content-type': 'application/json' };
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${berth.url}${path}`, { method, headers: admin, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text === '' ? undefined : (JSON.parse(text) as unknown);
};

try {
  await call('POST', '/v1/config/image-registry/remote-registries', {
    address: UPSTREAM,
    'override-address': registry.address,
    'ca-cert': registry.caCertPem,
    mirror: { enabled: true },
  });
  // Through Berth: the files Berth generates. Directly: the registry itself as the only host.
  const through = join(work, 'through');
  const hosts = (await call('GET', '/v1/state/image-registry/containerd-hosts')) as { files: Array<{ path: string; content: string }> };
  for (const file of hosts.files) {
    mkdirSync(join(through, file.path, '..'), { recursive: true });
    writeFileSync(join(through, file.path), file.content);
  }
  const direct = join(work, 'direct', UPSTREAM);
  mkdirSync(direct, { recursive: true });
  writeFileSync(join(direct, 'ca.crt'), registry.caCertPem);
  writeFileSync(join(direct, 'hosts.toml'), `server = "https://${UPSTREAM}"\n\n[host."https://${registry.address}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${join(direct, 'ca.crt')}"\n`);

  const emptyBerth = async () => {
    const repository = encodeURIComponent(`${UPSTREAM}/bench/app`);
    await fetch(`${berth.url}/v1/state/image-registry/repositories/${repository}/images/${image.digest}`, { method: 'DELETE', headers: admin });
    await call('POST', '/v1/state/image-registry/garbage-collect', { 'grace-period-seconds': 0 });
  };

  /** One pull by a containerd that has nothing yet; returns seconds. */
  const timed = async (command: 'fetch' | 'pull', hostsDir: string): Promise<number> => {
    const containerd: RunningContainerd = await startContainerd();
    try {
      const args = command === 'fetch' ? ['content', 'fetch', '--hosts-dir', hostsDir, REFERENCE] : ['images', 'pull', '--hosts-dir', hostsDir, '--snapshotter', 'native', REFERENCE];
      const start = process.hrtime.bigint();
      const result = await containerd.ctr('bench', args, 600_000);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      if (result.code !== 0) throw new Error(`ctr ${args.join(' ')}: ${result.stderr}`);
      return seconds;
    } finally {
      await containerd.stop();
    }
  };

  for (const command of ['fetch', 'pull'] as const) {
    const times: Times = { direct: [], first: [], cached: [] };
    for (let run = 0; run < RUNS; run++) {
      times.direct.push(await timed(command, join(work, 'direct')));
      await emptyBerth();
      times.first.push(await timed(command, through));
      times.cached.push(await timed(command, through));
    }
    report(
      command === 'fetch' ? 'ctr content fetch' : 'ctr images pull (native unpack)',
      command === 'fetch' ? 'pull-through, ctr content fetch, loopback' : 'pull-through, ctr images pull, loopback',
      times,
    );
  }

  // Over a slow link: the same registry behind a proxy that sends each blob at LINK_BYTES_PER_SECOND, for containerd
  // directly and for Berth alike; the goals are about a registry that is far away, which loopback is not.
  const linkCa = createCertificateAuthority('Berth bench link CA');
  const link = await startRegistryProxy({ port: registry.port, caCertPem: registry.caCertPem }, linkCa);
  link.behaviour = { kind: 'throttle', bytesPerSecond: LINK_BYTES_PER_SECOND };
  try {
    await call('PUT', `/v1/config/image-registry/remote-registries/${UPSTREAM}`, {
      address: UPSTREAM,
      'override-address': link.address,
      'ca-cert': linkCa.certPem,
      mirror: { enabled: true },
    });
    const directLink = join(work, 'direct-link', UPSTREAM);
    mkdirSync(directLink, { recursive: true });
    writeFileSync(join(directLink, 'ca.crt'), linkCa.certPem);
    writeFileSync(join(directLink, 'hosts.toml'), `server = "https://${UPSTREAM}"\n\n[host."https://${link.address}"]\n  capabilities = ["pull", "resolve"]\n  ca = "${join(directLink, 'ca.crt')}"\n`);
    const times: Times = { direct: [], first: [], cached: [] };
    for (let run = 0; run < RUNS; run++) {
      times.direct.push(await timed('pull', join(work, 'direct-link')));
      await emptyBerth();
      times.first.push(await timed('pull', through));
      times.cached.push(await timed('pull', through));
    }
    report(`ctr images pull (native unpack) over a ${LINK_BYTES_PER_SECOND / MiB} MiB/s-per-blob link`, 'pull-through, ctr images pull, slow link', times);
  } finally {
    await call('PUT', `/v1/config/image-registry/remote-registries/${UPSTREAM}`, {
      address: UPSTREAM,
      'override-address': registry.address,
      'ca-cert': registry.caCertPem,
      mirror: { enabled: true },
    });
    await link.stop();
    rmSync(linkCa.dir, { recursive: true, force: true });
  }

  // The registries alone: the four layers, three at a time, to an HTTP client that reads and drops them.
  const layers = image.manifests[0]!.layers;
  const tls = new Agent({ connect: { ca: registry.caCertPem } });
  const plain = new Agent();
  const fetchLayers = async (url: (digest: string) => string, dispatcher: Agent): Promise<number> => {
    const start = process.hrtime.bigint();
    const queue = [...layers];
    await Promise.all(
      [0, 1, 2].map(async () => {
        for (let layer = queue.shift(); layer; layer = queue.shift()) {
          const res = await request(url(layer.digest), { dispatcher });
          if (res.statusCode !== 200) throw new Error(`${res.statusCode} for ${layer.digest}`);
          for await (const chunk of res.body) void chunk;
        }
      }),
    );
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  const raw = { direct: [] as number[], first: [] as number[], cached: [] as number[] };
  const throughBerth = (d: string) => `${berth.url}/v2/bench/app/blobs/${d}?ns=${UPSTREAM}`;
  for (let run = 0; run < 5; run++) {
    raw.direct.push(await fetchLayers((d) => `https://${registry.address}/v2/bench/app/blobs/${d}`, tls));
    await emptyBerth();
    await fetch(`${berth.url}/v2/bench/app/manifests/v1?ns=${UPSTREAM}`);
    raw.first.push(await fetchLayers(throughBerth, plain));
    raw.cached.push(await fetchLayers(throughBerth, plain));
  }
  const [rd, rf, rc] = [median(raw.direct), median(raw.first), median(raw.cached)];
  console.log('the four layers to an HTTP client (3 at a time), median of 5:');
  console.log(`  docker-registry (https)       ${rd.toFixed(3)} s`);
  console.log(`  Berth, nothing cached (http)  ${rf.toFixed(3)} s   ratio ${(rf / rd).toFixed(2)}x`);
  console.log(`  Berth's cache (http)          ${rc.toFixed(3)} s   ratio ${(rc / rd).toFixed(2)}x`);
  reportFigure({ name: 'pull-through, layers to HTTP, nothing cached: Berth / docker-registry', value: rf / rd, unit: 'x', detail: `Berth ${rf.toFixed(3)} s, docker-registry ${rd.toFixed(3)} s` });
  reportFigure({ name: "pull-through, layers to HTTP, Berth's cache / docker-registry", value: rc / rd, unit: 'x', detail: `Berth ${rc.toFixed(3)} s, docker-registry ${rd.toFixed(3)} s` });
  await Promise.all([tls.close(), plain.close()]);
} finally {
  await berth.stop();
  await registry.stop();
  image.remove();
  rmSync(work, { recursive: true, force: true });
}
