// A remote registry under the test's control, for what no real registry will serve: an index listing one manifest a
// thousand times, manifests larger than their descriptors say, answers held back to count how many requests Berth
// has in flight. HTTPS on loopback with a certificate from a test CA; just enough of /v2 for pull and list-images.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { eventually } from './eventually.js';
import { issueServerCertificate, type CertificateAuthority } from './tls.js';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
}

export interface HostileRegistry {
  /** `127.0.0.1:PORT`: the address to configure in Berth, with `caCertPem` as its ca-cert. */
  address: string;
  caCertPem: string;
  /** Serves `bytes` under its digest (and `tag`), with `mediaType` as the Content-Type. */
  addManifest(repository: string, bytes: Buffer, mediaType: string, tag?: string): Descriptor;
  addBlob(bytes: Buffer): Descriptor;
  /** A single-platform image (a config and layers of `layerSizes` bytes, default one of 1 KiB) made unique by `seed`. */
  addImage(repository: string, seed: string, options?: { layerSizes?: number[]; tag?: string }): Descriptor;
  /** Names `/v2/_catalog` lists beside the repositories that have tags. */
  addCatalogNames(names: string[]): void;
  /** An index listing `entries` as they are (duplicates, sizes and all). */
  addIndex(repository: string, entries: Descriptor[], tag?: string): Descriptor;
  /** Paths asked for, in order. */
  readonly requests: string[];
  /** Manifest requests by digest answered or being answered now, and the most at once so far. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Starts counting `maxInFlight` afresh. */
  resetMaxInFlight(): void;
  /** While held, manifest requests by digest wait until released one by one. */
  hold(): void;
  /** Lets one held request go; false when none is waiting. */
  releaseOne(): boolean;
  /** Lets every held request go and stops holding. */
  releaseAll(): void;
  /** Resolves once at least this many manifest requests by digest are waiting to be released. */
  waitForHeld(count: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startHostileRegistry(ca: CertificateAuthority): Promise<HostileRegistry> {
  const documents = new Map<string, { bytes: Buffer; mediaType: string }>();
  const tags = new Map<string, string>();
  const blobs = new Map<string, Buffer>();
  const catalogNames: string[] = [];
  const requests: string[] = [];
  const waiting: Array<() => void> = [];
  let holding = false;
  let inFlight = 0;
  let maxInFlight = 0;

  const cert = issueServerCertificate(ca, `hostile-${Math.random().toString(36).slice(2)}`);
  const server: Server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    requests.push(path);
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (manifest) {
      const reference = decodeURIComponent(manifest[2]!);
      const digest = reference.startsWith('sha256:') ? reference : tags.get(`${manifest[1]}:${reference}`);
      const document = digest ? documents.get(digest) : undefined;
      if (!document || !digest) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
        return;
      }
      const answer = () => {
        // Counted out as the answer is handed over: the client cannot reuse this connection before it has it.
        if (reference.startsWith('sha256:')) inFlight--;
        res.writeHead(200, { 'content-type': document.mediaType, 'docker-content-digest': digest, 'content-length': document.bytes.length });
        res.end(req.method === 'HEAD' ? undefined : document.bytes);
      };
      if (!reference.startsWith('sha256:')) return answer();
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (holding) waiting.push(answer);
      else answer();
      return;
    }
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path);
    const bytes = blob ? blobs.get(blob[2]!) : undefined;
    if (bytes) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, 'docker-content-digest': blob![2]! });
      res.end(bytes);
      return;
    }
    if (path === '/v2/_catalog') {
      const tagged = new Set([...tags.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ repositories: [...tagged, ...catalogNames] }));
      return;
    }
    const tagList = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    if (tagList) {
      const names = [...tags.keys()].filter((k) => k.startsWith(`${tagList[1]}:`)).map((k) => k.slice(tagList[1]!.length + 1));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: tagList[1], tags: names }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN","message":"unknown"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));

  const registry: HostileRegistry = {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    caCertPem: ca.certPem,
    addManifest(repository, bytes, mediaType, tag) {
      const digest = sha256(bytes);
      documents.set(digest, { bytes, mediaType });
      if (tag) tags.set(`${repository}:${tag}`, digest);
      return { mediaType, digest, size: bytes.length };
    },
    addCatalogNames(names) {
      for (const name of names) catalogNames.push(name);
    },
    addBlob(bytes) {
      const digest = sha256(bytes);
      blobs.set(digest, bytes);
      return { mediaType: OCI_LAYER, digest, size: bytes.length };
    },
    addImage(repository, seed, options = {}) {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed }));
      const layers = (options.layerSizes ?? [1024]).map((size, i) => registry.addBlob(Buffer.alloc(size, `${seed}/${i}/`)));
      const configDescriptor = { ...registry.addBlob(config), mediaType: OCI_CONFIG };
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor, layers }));
      return { ...registry.addManifest(repository, manifest, OCI_MANIFEST, options.tag), platform: { os: 'linux', architecture: 'amd64' } };
    },
    addIndex(repository, entries, tag) {
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }));
      return registry.addManifest(repository, bytes, OCI_INDEX, tag);
    },
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    resetMaxInFlight() {
      maxInFlight = inFlight;
    },
    hold() {
      holding = true;
    },
    releaseOne() {
      const next = waiting.shift();
      next?.();
      return next !== undefined;
    },
    releaseAll() {
      holding = false;
      for (const next of waiting.splice(0)) next();
    },
    async waitForHeld(count) {
      await eventually(`${count} manifest requests held at the registry`, async () => waiting.length >= count);
    },
    async stop() {
      registry.releaseAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return registry;
}
