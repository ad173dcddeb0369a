// Image references after the distribution reference grammar: `repo[:tag][@digest]` relative to a known
// registry, and full `host[:port]/repo[:tag][@digest]`. Bad input is an `invalid-input` BerthError naming the input.
import { invalidInput } from '../errors.js';
import { requireDigest } from './digest.js';

export interface ImageReference {
  /** `host[:port]` when the reference named a registry. */
  registry?: string;
  /** The repository path, e.g. `avassa-public/movie-theaters-demo/kettle-popper-manager`. */
  repository: string;
  tag?: string;
  digest?: string;
}

/** path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+ */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
/** The distribution spec's limit on a whole name, registry included. */
const NAME_MAX_LENGTH = 255;

export const DEFAULT_TAG = 'latest';

export const isValidTag = (tag: string): boolean => TAG.test(tag);

export const isValidRepositoryName = (name: string): boolean =>
  name.length > 0 && name.length <= NAME_MAX_LENGTH && name.split('/').every((c) => PATH_COMPONENT.test(c));

/** Whether `address` is `host[:port]` with an IPv6 host in brackets, as in a reference's domain. */
export function isValidRegistryAddress(address: string): boolean {
  const match = /^(\[[^\]]*\]|[^:[\]]+)(?::([^:]*))?$/.exec(address);
  if (!match) return false;
  const [, host = '', port] = match;
  if (port !== undefined && (!PORT.test(port) || Number(port) > 65535)) return false;
  return IPV6_HOST.test(host) || host.split('.').every((c) => DOMAIN_COMPONENT.test(c));
}

function reject(input: string, what: string, reason: string): never {
  throw invalidInput(`${what} '${input}': ${reason}`, { reference: input });
}

function checkRepository(input: string, repository: string, what: string): void {
  if (repository === '') reject(input, what, 'the repository name is empty');
  if (repository.length > NAME_MAX_LENGTH) reject(input, what, `the name is longer than ${NAME_MAX_LENGTH} characters`);
  for (const component of repository.split('/')) {
    if (PATH_COMPONENT.test(component)) continue;
    if (component === '') reject(input, what, 'the repository name has an empty path component');
    if (/[A-Z]/.test(component)) reject(input, what, `repository names must be lowercase ('${component}')`);
    reject(input, what, `'${component}' is not a valid repository path component`);
  }
}

/** Splits `name[:tag][@digest]`; the tag separator is a ':' after the last '/', so a registry port is never a tag. */
function splitTagAndDigest(input: string, what: string): { name: string; tag?: string; digest?: string } {
  const at = input.indexOf('@');
  const beforeDigest = at === -1 ? input : input.slice(0, at);
  const digest = at === -1 ? undefined : input.slice(at + 1);
  if (digest !== undefined) requireDigest(digest, `${what} '${input}': digest`);
  const colon = beforeDigest.lastIndexOf(':');
  const hasTag = colon > beforeDigest.lastIndexOf('/') && colon > beforeDigest.lastIndexOf(']');
  const name = hasTag ? beforeDigest.slice(0, colon) : beforeDigest;
  const tag = hasTag ? beforeDigest.slice(colon + 1) : undefined;
  if (tag !== undefined && !TAG.test(tag)) {
    reject(input, what, `'${tag}' is not a valid tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`);
  }
  return { name, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `repo[:tag][@digest]` for a registry known from elsewhere (the API's image strings); never names a host. */
export function parseRepositoryReference(input: string): ImageReference {
  const what = 'image reference';
  if (input.trim() !== input) reject(input, what, 'surrounding spaces');
  const { name, tag, digest } = splitTagAndDigest(input, what);
  checkRepository(input, name, what);
  return { repository: name, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * A full reference `[host[:port]/]repo[:tag][@digest]`. As in Docker, the first path component is a registry
 * when it holds a '.' or a ':' or is `localhost`; otherwise the whole name is the repository and `registry` is absent.
 */
export function parseImageReference(input: string): ImageReference {
  const what = 'image reference';
  if (input.trim() !== input) reject(input, what, 'surrounding spaces');
  const { name, tag, digest } = splitTagAndDigest(input, what);
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const namesRegistry = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = namesRegistry ? first : undefined;
  const repository = namesRegistry ? name.slice(slash + 1) : name;
  if (registry !== undefined && !isValidRegistryAddress(registry)) reject(input, what, `'${registry}' is not a valid registry host[:port]`);
  checkRepository(input, repository, what);
  if (name.length > NAME_MAX_LENGTH) reject(input, what, `the name is longer than ${NAME_MAX_LENGTH} characters`);
  return {
    ...(registry !== undefined ? { registry } : {}),
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** What to ask the registry's manifest endpoint for: the digest when there is one, else the tag, else `latest`. */
export const manifestReferenceOf = (reference: ImageReference): string => reference.digest ?? reference.tag ?? DEFAULT_TAG;

export function formatImageReference(reference: ImageReference): string {
  return (
    (reference.registry !== undefined ? `${reference.registry}/` : '') +
    reference.repository +
    (reference.tag !== undefined ? `:${reference.tag}` : '') +
    (reference.digest !== undefined ? `@${reference.digest}` : '')
  );
}

/** Throws invalid-input unless `repository` is a valid repository name. */
export function requireRepositoryName(repository: string): string {
  checkRepository(repository, repository, 'repository');
  return repository;
}

/** Throws invalid-input unless `reference` is a tag or a supported digest (what `/manifests/<reference>` takes). */
export function requireManifestReference(reference: string): string {
  if (reference.includes(':')) requireDigest(reference, 'manifest reference');
  else if (!TAG.test(reference)) reject(reference, 'manifest reference', 'neither a tag nor a digest');
  return reference;
}
