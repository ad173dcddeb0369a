// A blob transferred from a real docker-registry (TLS) into a real site registry's store, as a pull transfers it: the
// chunks undici hands over are slices of the socket's reads, and the memory under them is freed as soon as they are
// written (consumed-buffers.ts), not left for V8 to find. What the writer is handed is seen through the one function
// that frees it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlobTransfers } from '../../src/image-registry/pull/blob-transfer.js';
import { RegistryClient } from '../../src/oci/index.js';
import { createSiteRegistry, type SiteRegistry } from '../../src/registry/index.js';
import { ConsumedBuffers } from '../../src/registry/storage/consumed-buffers.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { buildSinglePlatformImage, pushImage, type BuiltImage } from '../helpers/oci-images.js';

describe('a blob transferred from a registry', () => {
  let registry: RunningRegistry;
  let image: BuiltImage;
  let dataDir: string;
  let site: SiteRegistry;
  let client: RegistryClient;

  before(async () => {
    registry = await startDockerRegistry({ auth: { kind: 'none' } });
    image = await buildSinglePlatformImage({ seed: 'blob-transfer', layerSizes: [6 * 1024 * 1024] });
    await pushImage(image, { address: registry.address, caCertPem: registry.caCertPem }, 'transfer/app', 'v1');
    dataDir = mkdtempSync(join(tmpdir(), 'berth-blob-transfer-'));
    site = await createSiteRegistry({ dataDir });
    client = new RegistryClient({ address: registry.address, caCertPem: registry.caCertPem });
  });

  after(async () => {
    await client.close();
    await site.close();
    await registry.stop();
    image.remove();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is stored whole, and the socket buffers its chunks came in are freed once written', async () => {
    // Each buffer's size and the bytes of it handed over, counted as they come: a detached buffer reads as empty.
    const handed = new Map<ArrayBuffer, { size: number; bytes: number }>();
    const release = ConsumedBuffers.prototype.release;
    ConsumedBuffers.prototype.release = function (chunks) {
      for (const chunk of chunks) {
        const buffer = chunk.buffer as ArrayBuffer;
        const seen = handed.get(buffer) ?? handed.set(buffer, { size: buffer.byteLength, bytes: 0 }).get(buffer)!;
        seen.bytes += chunk.byteLength;
      }
      release.call(this, chunks);
    };
    const layer = image.manifests[0]!.layers[0]!;
    try {
      const lease = new BlobTransfers(site.blobs).fetch({ client, registry: registry.address, repository: 'transfer/app' }, layer);
      await lease.done;
    } finally {
      ConsumedBuffers.prototype.release = release;
    }
    assert.equal((await site.blobs.stat(layer.digest))?.size, layer.size);

    const buffers = [...handed];
    assert.equal(buffers.reduce((sum, [, { bytes }]) => sum + bytes, 0), layer.size, 'every byte went through the release');
    // Freed: exactly the buffers whose every byte was handed over. The others (the one that began with the headers,
    // ones some of whose reads undici's socket read copied into a new buffer) are V8's to free, as before.
    for (const [buffer, { size, bytes }] of buffers) assert.equal(buffer.detached, bytes === size);
    const freedBytes = buffers.reduce((sum, [buffer, { bytes }]) => sum + (buffer.detached ? bytes : 0), 0);
    assert.ok(freedBytes >= layer.size / 2, `most of the blob's memory freed at once: ${freedBytes} of ${layer.size} bytes`);
  });
});
