// list-images over a repository of 100 tags on a real docker-registry (TLS, loopback), against what a user does with
// skopeo: `skopeo list-tags`, then `skopeo inspect --raw` per tag, one after another and 8 at a time. Same run, same registry.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startBerth } from '../test/helpers/berth.js';
import { startDockerRegistry } from '../test/helpers/docker-registry.js';
import { pushManyTags } from '../test/helpers/oci-images.js';
import { runSkopeo } from '../test/helpers/skopeo.js';
import { orStop, reportFigure } from './figures.js';

const TAGS = 100;
const REPOSITORY = 'bench/list-images';
const BERTH_RUNS = 7;
/** skopeo runs are slow (a process per tag); a couple of them keep the benchmark bounded. */
const SKOPEO_RUNS = 3;
const SKOPEO_CONCURRENCY = 8;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await fn();
  return { ms: performance.now() - start, result };
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

const registry = await startDockerRegistry({ auth: { kind: 'none' } });
const certDir = mkdtempSync(join(tmpdir(), 'berth-bench-certs-'));
writeFileSync(join(certDir, 'ca.crt'), registry.caCertPem);
const berth = await orStop(registry, startBerth({ env: { BERTH_LOG_LEVEL: 'warn' } }));
try {
  const tags = Array.from({ length: TAGS }, (_, i) => `v${String(i).padStart(3, '0')}`);
  const pushed = await pushManyTags({ address: registry.address, caCertPem: registry.caCertPem }, REPOSITORY, tags);
  const expected = new Map(pushed.map((p) => [p.tag, p.digest]));

  const headers = { authorization: `Bearer ${berth.adminToken}`, 'content-type': 'application/json' };
  const created = await fetch(`${berth.url}/v1/config/image-registry/remote-registries`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ address: registry.address, 'ca-cert': registry.caCertPem }),
  });
  assert.equal(created.status, 201, await created.text());

  const listImages = async () => {
    const res = await fetch(`${berth.url}/v1/state/image-registry/remote-registries/${registry.address}/list-images`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ repository: REPOSITORY }),
    });
    const body = (await res.json()) as { images: { name: string; digest: string }[] };
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.images;
  };

  const image = `docker://${registry.address}/${REPOSITORY}`;
  const skopeoListTags = async () => JSON.parse((await runSkopeo(['list-tags', '--cert-dir', certDir, image])).stdout) as { Tags: string[] };
  const skopeoDigest = async (tag: string) => {
    const raw = (await runSkopeo(['inspect', '--raw', '--cert-dir', certDir, `${image}:${tag}`])).stdout;
    return `sha256:${createHash('sha256').update(raw.replace(/\n$/, '')).digest('hex')}`;
  };
  const skopeoSequential = async () => {
    const { Tags } = await skopeoListTags();
    const digests: string[] = [];
    for (const tag of Tags) digests.push(await skopeoDigest(tag));
    return Tags.map((tag, i) => [tag, digests[i]!] as const);
  };
  const skopeoConcurrent = async () => {
    const { Tags } = await skopeoListTags();
    const digests = await mapLimited(Tags, SKOPEO_CONCURRENCY, skopeoDigest);
    return Tags.map((tag, i) => [tag, digests[i]!] as const);
  };

  // Both answers must be complete and right, or the times mean nothing.
  const warm = await listImages();
  assert.equal(warm.length, TAGS);
  for (const entry of warm) assert.equal(entry.digest, expected.get(entry.name.split(':').pop()!), entry.name);

  const berthTimes: number[] = [];
  for (let i = 0; i < BERTH_RUNS; i++) berthTimes.push((await timed(listImages)).ms);

  const sequentialTimes: number[] = [];
  const concurrentTimes: number[] = [];
  for (let i = 0; i < SKOPEO_RUNS; i++) {
    const sequential = await timed(skopeoSequential);
    sequentialTimes.push(sequential.ms);
    const concurrent = await timed(skopeoConcurrent);
    concurrentTimes.push(concurrent.ms);
    for (const [tag, digest] of [...sequential.result, ...concurrent.result]) assert.equal(digest, expected.get(tag), tag);
  }

  const berthMs = median(berthTimes);
  const sequentialMs = median(sequentialTimes);
  const concurrentMs = median(concurrentTimes);
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
  process.stdout.write(
    [
      `list-images over ${TAGS} tags of one repository (docker-registry ${registry.address}, TLS, no auth, loopback)`,
      `  berth list-images (full details, ${BERTH_RUNS} runs, median):              ${fmt(berthMs)}`,
      `  skopeo list-tags + ${TAGS} x inspect --raw, sequential (${SKOPEO_RUNS} runs, median): ${fmt(sequentialMs)}`,
      `  skopeo list-tags + ${TAGS} x inspect --raw, ${SKOPEO_CONCURRENCY} at a time (${SKOPEO_RUNS} runs, median):  ${fmt(concurrentMs)}`,
      `  ratio skopeo sequential / berth: ${(sequentialMs / berthMs).toFixed(1)}x`,
      `  ratio skopeo ${SKOPEO_CONCURRENCY} at a time / berth: ${(concurrentMs / berthMs).toFixed(1)}x`,
      '',
    ].join('\n'),
  );
  reportFigure({
    name: `list-images over ${TAGS} tags: Berth time / skopeo ${SKOPEO_CONCURRENCY} at a time`,
    value: berthMs / concurrentMs,
    unit: 'x',
    detail: `Berth ${fmt(berthMs)}, skopeo ${fmt(concurrentMs)} (${fmt(sequentialMs)} one after another)`,
  });
} finally {
  await berth.stop();
  await registry.stop();
  rmSync(certDir, { recursive: true, force: true });
}
