// Repository names and tags as the OCI distribution spec constrains them; checked once at the edge of the
// domain API so the index and the blob store only ever see valid values.
import { requireDigest } from './digest.js';
import { RegistryError } from './registry-error.js';
import type { RegistryIndex } from './storage/registry-index.js';

const nameComponent = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const namePattern = new RegExp(`^${nameComponent}(?:/${nameComponent})*$`);
const tagPattern = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
// Many clients cap host + '/' + name at 255 characters; 255 leaves room for no host at all, so it is an outer bound.
const maxNameLength = 255;

export const isRepositoryName = (name: string): boolean => name.length <= maxNameLength && namePattern.test(name);
export const isTag = (tag: string): boolean => tagPattern.test(tag);

/** Throws NAME_INVALID (400) unless `name` is a valid repository name. */
export function assertRepositoryName(name: string): string {
  if (!isRepositoryName(name)) {
    throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(name.slice(0, 300))}`, { name: name.slice(0, 300) });
  }
  return name;
}

/** Throws MANIFEST_INVALID (400) unless `tag` is a valid tag (the spec has no dedicated tag code). */
export function assertTag(tag: string): string {
  if (!isTag(tag)) {
    throw new RegistryError('MANIFEST_INVALID', `invalid tag ${JSON.stringify(tag.slice(0, 200))}`, { tag: tag.slice(0, 200) });
  }
  return tag;
}

export type ManifestReference = { tag: string; digest?: undefined } | { digest: string; tag?: undefined };

/** A manifest reference is a digest (it has a colon) or a tag; anything else is a 400. */
export function parseManifestReference(reference: string): ManifestReference {
  if (reference.includes(':')) {
    requireDigest(reference);
    return { digest: reference };
  }
  return { tag: assertTag(reference) };
}

export const nameUnknown = (name: string): RegistryError =>
  new RegistryError('NAME_UNKNOWN', `repository ${name} not known to registry`, { name });

/** NAME_UNKNOWN (404) unless `name` is a repository of the registry. */
export function requireRepository(index: Pick<RegistryIndex, 'repositoryExists'>, name: string): void {
  assertRepositoryName(name);
  if (!index.repositoryExists(name)) throw nameUnknown(name);
}
