// Desired images for groups of sites: one entry of `/v1/config/image-registry/site-images` names images (full
// references of configured remote registries, one platform or all, optionally retagged) and the sites that must hold
// them (a selector). Under `config/image-registry/`, so it replicates to every site like the remote registries.
import { createHash } from 'node:crypto';
import type { ConfigList, ConfigListSpec } from '../config/config-list.js';
import type { SchemaProblem } from '../contract/openapi.js';
import { isBerthError } from '../errors.js';
import type { RemoteRegistry } from '../image-registry/remote-registry.js';
import { readPullRequest, splitFullReference, type PullRequestBody, type PullTarget } from '../image-registry/pull/pull-request.js';
import { parseSelector } from './selector.js';

/** One image to hold: the body of a pull by full reference. */
export type DesiredImage = PullRequestBody;

export interface SiteImages {
  name: string;
  description?: string;
  /** A selector (selector.ts) over the sites' names and labels. */
  sites: string;
  images: DesiredImage[];
}

export const SITE_IMAGES_PREFIX = 'config/image-registry/site-images/';

/** Where a desired image lands in the site registry, as the pull operation would put it. */
export function targetOf(image: DesiredImage): PullTarget & { registry: string } {
  const { registryAddress, image: relative } = splitFullReference(image.image);
  return { ...readPullRequest({ ...image, image: relative }, registryAddress).target, registry: registryAddress };
}

export const formatTarget = (target: PullTarget, digest?: string): string =>
  target.tag !== undefined ? `${target.repository}:${target.tag}` : `${target.repository}@${digest ?? ''}`;

/**
 * A digest of an entry as configured: a site reports the digest of the entry it acted on, and the tower counts the
 * report only while it is the entry's current one. Keys are sorted, so the tower and the site agree on the bytes.
 */
export function configDigest(entry: SiteImages): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(canonical)
    : value && typeof value === 'object' ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
    : value;
  return createHash('sha256').update(JSON.stringify(canonical(entry))).digest('hex').slice(0, 32);
}

function semanticProblems(entry: SiteImages): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  try {
    parseSelector(entry.sites, 'sites');
  } catch (e) {
    if (!isBerthError(e)) throw e;
    problems.push({ pointer: '/sites', message: e.message.replace(/^sites: /, '') });
  }
  const targets = new Map<string, number>();
  entry.images.forEach((image, index) => {
    let target: PullTarget;
    try {
      target = targetOf(image);
    } catch (e) {
      if (!isBerthError(e)) throw e;
      const field = typeof e.info?.path === 'string' ? e.info.path : '/image';
      // The pull's own messages may start with the field's name, which the pointer already says.
      return problems.push({ pointer: `/images/${index}${field}`, message: e.message.replace(`${field.slice(1)}: `, '') });
    }
    // An untagged image (by digest, without `to`) lands nowhere another could move.
    if (target.tag === undefined) return;
    const name = formatTarget(target);
    const other = targets.get(name);
    if (other !== undefined) problems.push({ pointer: `/images/${index}`, message: `lands on ${name} like images[${other}]; give one of them another 'to'` });
    targets.set(name, index);
  });
  return problems;
}

export function siteImagesSpec(registries: ConfigList<RemoteRegistry>): ConfigListSpec<SiteImages> {
  return {
    noun: 'site images',
    prefix: SITE_IMAGES_PREFIX,
    keyField: 'name',
    schema: 'SiteImages',
    keyedLists: { images: 'image' },
    semanticProblems,
    async referenceProblems(entry) {
      const known = new Set((await registries.list()).map((r) => r.value.address));
      return entry.images.flatMap((image, index) => {
        const { registryAddress } = splitFullReference(image.image);
        return known.has(registryAddress)
          ? []
          : [{ pointer: `/images/${index}/image`, message: `'${image.image}' names registry '${registryAddress}', which is not a configured remote registry (/v1/config/image-registry/remote-registries)` }];
      });
    },
  };
}
