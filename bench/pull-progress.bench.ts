// What tracking a pull's progress costs where the bytes flow: a blob written into the site registry's store through
// the BlobProgress view (each chunk reported, as pulls now do) against the same store written directly, in the same
// run, interleaved. Prints the median time of each and the ratio.
// Run: node --import tsx bench/pull-progress.bench.ts   (about half a minute)
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobProgress } from '../src/image-registry/pull/blob-progress.js';
import { createSiteRegistry, type BlobStore } from '../src/registry/index.js';

const MiB = 1024 * 1024;
/** One blob: 256 MiB in the 64 KiB chunks a download delivers. */
const CHUNK = 64 * 1024;
const BLOB_BYTES = 256 * MiB;
const RUNS = 5;

const pattern = randomBytes(MiB);
function* chunks(): Generator<Uint8Array> {
  for (let offset = 0; offset < BLOB_BYTES; offset += CHUNK) yield pattern.subarray(offset % MiB, (offset % MiB) + CHUNK);
}
const hash = createHash('sha256');
for (const chunk of chunks()) hash.update(chunk);
const digest = `sha256:${hash.digest('hex')}`;

async function writeOnce(store: BlobStore): Promise<number> {
  const started = process.hrtime.bigint();
  const writer = await store.openWriter({ expectedDigest: digest, expectedSize: BLOB_BYTES });
  await writer.writeFrom(chunks(), { maxBytes: BLOB_BYTES });
  await writer.commit();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.delete(digest);
  return seconds;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const dataDir = mkdtempSync(join(tmpdir(), 'berth-progress-bench-'));
const site = await createSiteRegistry({ dataDir });
try {
  const progress = new BlobProgress();
  let events = 0;
  // A pull watching the blob, as a tracked pull does.
  progress.watch(digest, () => events++);
  const reported = progress.reporting(site.blobs);
  const direct: number[] = [];
  const tracked: number[] = [];
  await writeOnce(site.blobs); // warm-up
  for (let run = 0; run < RUNS; run++) {
    direct.push(await writeOnce(site.blobs));
    tracked.push(await writeOnce(reported));
  }
  const [d, t] = [median(direct), median(tracked)];
  process.stdout.write(`blob of ${BLOB_BYTES / MiB} MiB in ${CHUNK / 1024} KiB chunks, ${RUNS} runs each, medians\n`);
  process.stdout.write(`direct ${d.toFixed(3)} s (${(BLOB_BYTES / MiB / d).toFixed(0)} MiB/s)   with progress ${t.toFixed(3)} s (${(BLOB_BYTES / MiB / t).toFixed(0)} MiB/s)\n`);
  process.stdout.write(`with progress / direct: ${(t / d).toFixed(3)}   (${events / RUNS} write events per blob)\n`);
} finally {
  await site.close();
  rmSync(dataDir, { recursive: true, force: true });
}
