// list-images: the tags of one repository (all, or those asked for) as image names, each with its manifest or
// index described: digests, media types, platforms and annotations. Manifests are fetched side by side, bounded
// (BERTH_OPERATION_FETCHES); an index listing more entries than a pull would take is the remote's bad answer.
import { invalidInput, upstreamFailure } from '../../errors.js';
import type { Limits } from '../../limits.js';
import {
  RegistryError,
  platformString,
  requireRepositoryName,
  type FetchedManifest,
  type RegistryClient,
} from '../../oci/index.js';
import type { OperationDeps } from '../operation-deps.js';
import { mapBounded } from './bounded-map.js';
import { ImagePlatforms } from './image-platform.js';
import { callRegistry } from './upstream-call.js';

/** `full`, `short` (12 hex digits, as `docker images` shows IDs) or a number of hex digits. */
export type DigestLength = 'full' | 'short' | number;

export interface ListImagesRequest {
  repository: string;
  /** Only this tag. */
  tag?: string;
  /** Only these tags. */
  tags?: string[];
  /** `true`: image names only; no manifest is fetched. */
  brief?: boolean;
  'digest-length'?: DigestLength;
}

export type Annotations = Record<string, string>;

export interface ListedIndexEntry {
  digest: string;
  'media-type': string;
  /** `os/arch[/variant]`, or `unknown/unknown` (attestations). */
  platform: string;
  annotations: Annotations;
}

export interface ListedImage {
  /** `<registry address>/<repository>:<tag>`. */
  name: string;
  digest?: string;
  'image-index'?: { 'media-type': string; annotations: Annotations; manifests: ListedIndexEntry[] };
  manifest?: { 'media-type': string; platform: string; annotations: Annotations };
}

export interface ListImagesAnswer {
  images: ListedImage[];
}

const SHORT_DIGEST_HEX_DIGITS = 12;

/** Cuts `algorithm:hex` to the requested number of hex digits; the algorithm stays, so the value still says what it is. */
function digestShortener(length: DigestLength | undefined): (digest: string) => string {
  if (length === undefined || length === 'full') return (digest) => digest;
  const digits = length === 'short' ? SHORT_DIGEST_HEX_DIGITS : length;
  return (digest) => {
    const colon = digest.indexOf(':');
    return digest.slice(0, colon + 1 + digits);
  };
}

/**
 * The tags to describe: all of them sorted (registries list tags in storage order, which is no order at all), or
 * those asked for that exist, in the order asked.
 */
function selectTags(existing: string[], request: ListImagesRequest): string[] {
  const wanted = request.tag !== undefined ? [request.tag] : request.tags;
  if (wanted === undefined) return [...existing].sort();
  const present = new Set(existing);
  return [...new Set(wanted)].filter((tag) => present.has(tag));
}

async function describe(
  client: RegistryClient,
  platforms: ImagePlatforms,
  repository: string,
  tag: string,
  shorten: (digest: string) => string,
  limits: Pick<Limits, 'manifestEntries'>,
): Promise<Omit<ListedImage, 'name'> | undefined> {
  let fetched: FetchedManifest;
  try {
    fetched = await callRegistry(client, () => client.getManifest(repository, tag), { diagnose: false });
  } catch (error) {
    // Deleted between listing the tags and reading it: as absent as a tag that never existed.
    if (error instanceof RegistryError && error.failure.kind === 'not-found') return undefined;
    throw error;
  }
  const digest = shorten(fetched.digest);
  if (fetched.kind === 'index') {
    const index = fetched.parsed;
    if (index.manifests.length > limits.manifestEntries) {
      throw upstreamFailure(
        `registry ${client.label}: image index ${repository}:${tag} lists ${index.manifests.length} manifests, more than the ${limits.manifestEntries} Berth takes (BERTH_MAX_MANIFEST_ENTRIES)`,
        { kind: 'bad-response', registry: client.registry, digest: fetched.digest, limit: limits.manifestEntries },
      );
    }
    return {
      digest,
      'image-index': {
        'media-type': fetched.mediaType,
        annotations: index.annotations ?? {},
        manifests: index.manifests.map((entry) => ({
          digest: shorten(entry.digest),
          'media-type': entry.mediaType,
          platform: platformString(entry.platform),
          annotations: entry.annotations ?? {},
        })),
      },
    };
  }
  const platform = await callRegistry(client, () => platforms.platformOf(fetched.parsed.config), { diagnose: false });
  return { digest, manifest: { 'media-type': fetched.mediaType, platform, annotations: fetched.parsed.annotations ?? {} } };
}

export async function listImages(deps: OperationDeps, address: string, request: ListImagesRequest): Promise<ListImagesAnswer> {
  if (request.tag !== undefined && request.tags !== undefined) throw invalidInput("give either 'tag' or 'tags', not both", { path: '/tags' });
  const repository = requireRepositoryName(request.repository);
  const registry = await deps.registries.get(address);
  const client = deps.clients.clientFor(registry);
  const tags = selectTags(await callRegistry(client, () => client.listTags(repository)), request);
  const nameOf = (tag: string) => `${registry.value.address}/${repository}:${tag}`;
  if (request.brief) return { images: tags.map((tag) => ({ name: nameOf(tag) })) };

  const platforms = new ImagePlatforms(client, repository, deps.limits.configBytes);
  const shorten = digestShortener(request['digest-length']);
  const described = await mapBounded(tags, deps.limits.operationFetches, (tag) => describe(client, platforms, repository, tag, shorten, deps.limits));
  const images: ListedImage[] = [];
  described.forEach((image, i) => {
    if (image) images.push({ name: nameOf(tags[i]!), ...image });
  });
  return { images };
}
