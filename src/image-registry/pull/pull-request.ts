// The body of a pull request (`image`, `all-platforms`, `platform`, `to`) read into a PullSpec: what to fetch from
// the remote registry, which platform(s), and which repository and tag of the site registry receive it.
import { invalidInput } from '../../errors.js';
import { DEFAULT_TAG, formatImageReference, parseImageReference, parseRepositoryReference } from '../../oci/index.js';
import { hostPlatform, parsePlatform, type PlatformChoice } from './platform.js';

/** The request body as the contract admits it (schemas PullRequest and PullByReferenceRequest). */
export interface PullRequestBody {
  image: string;
  'all-platforms'?: true;
  platform?: string;
  to?: string;
}

export interface PullSource {
  repository: string;
  /** What the manifest endpoint is asked for: the digest when the image names one, else the tag. */
  reference: string;
  tag?: string;
  digest?: string;
}

export interface PullTarget {
  repository: string;
  /** Absent only for an image pulled by digest alone without `to`: it is then stored untagged. */
  tag?: string;
}

export type PlatformSelection =
  | { kind: 'all' }
  /** `explicit`: the request named the platform (rather than taking the host's). */
  | { kind: 'one'; choice: PlatformChoice; explicit: boolean };

export interface PullSpec {
  source: PullSource;
  target: PullTarget;
  platforms: PlatformSelection;
}

/**
 * The image relative to the registry (`repo[:tag][@digest]`). A reference that starts with the registry's own
 * address is taken as that registry's (so names copied from list-images work as they are).
 */
function readSource(image: string, registryAddress: string): PullSource {
  const relative = image.startsWith(`${registryAddress}/`) ? image.slice(registryAddress.length + 1) : image;
  const parsed = parseRepositoryReference(relative);
  const tag = parsed.tag ?? (parsed.digest === undefined ? DEFAULT_TAG : undefined);
  return {
    repository: parsed.repository,
    reference: parsed.digest ?? tag!,
    ...(tag !== undefined ? { tag } : {}),
    ...(parsed.digest !== undefined ? { digest: parsed.digest } : {}),
  };
}

/** `to` without a tag means `latest`, as an image reference without a tag does everywhere else. */
function readTarget(to: string | undefined, source: PullSource): PullTarget {
  if (to === undefined) return { repository: source.repository, ...(source.tag !== undefined ? { tag: source.tag } : {}) };
  const parsed = parseRepositoryReference(to);
  if (parsed.digest !== undefined) throw invalidInput(`to '${to}': a target is a repository and a tag, not a digest`, { path: '/to' });
  return { repository: parsed.repository, tag: parsed.tag ?? DEFAULT_TAG };
}

function readPlatforms(body: PullRequestBody): PlatformSelection {
  if (body['all-platforms'] === true) {
    if (body.platform !== undefined) throw invalidInput('platform: not with all-platforms, which pulls every platform', { path: '/platform' });
    return { kind: 'all' };
  }
  if (body.platform !== undefined) return { kind: 'one', choice: parsePlatform(body.platform), explicit: true };
  return { kind: 'one', choice: hostPlatform(), explicit: false };
}

/** A pull from the remote registry `registryAddress`; the body has passed the contract. */
export function readPullRequest(body: PullRequestBody, registryAddress: string): PullSpec {
  const source = readSource(body.image, registryAddress);
  return { source, target: readTarget(body.to, source), platforms: readPlatforms(body) };
}

/**
 * Splits a full reference `host[:port]/repo[:tag][@digest]` into the registry address and the image relative to
 * it. The first component must name a registry (hold a `.` or a `:`, or be `localhost`), as in Docker.
 */
export function splitFullReference(image: string): { registryAddress: string; image: string } {
  const parsed = parseImageReference(image);
  if (parsed.registry === undefined) {
    throw invalidInput(`image '${image}': name the remote registry first, as in registry.example.com/${image}`, { path: '/image' });
  }
  const { registry, ...relative } = parsed;
  return { registryAddress: registry, image: formatImageReference(relative) };
}
