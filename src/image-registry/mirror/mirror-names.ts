// How a mirrored registry's content is named in the site registry: under the repository `<address>/<repository>`,
// the address written as a repository path component (`registry.example.com`, `127.0.0.1__5000` for
// `127.0.0.1:5000`: a repository name cannot hold `:`). The same component starts the plain path form
// `/v2/<address>/<repository>/...` for clients that cannot send containerd's `?ns=`.
import { isValidRegistryAddress } from '../../oci/index.js';
import { RegistryError, isRepositoryName } from '../../registry/index.js';
import { splitHostPort } from '../registry-address.js';

/** Why `address` cannot be mirrored, or undefined when it can: the component it maps to must be one only it maps to. */
export function mirrorAddressProblem(address: string): string | undefined {
  if (address !== address.toLowerCase()) return 'a mirrored registry\'s address must be lowercase (containerd names registries in lowercase)';
  if (address.startsWith('[')) return 'an IPv6 address cannot be mirrored: it cannot be written as a repository name; use a host name';
  return undefined;
}

/** `host` or `host__port`: the address as a repository path component. */
export function mirrorComponentOf(address: string): string {
  const parts = splitHostPort(address);
  if (!parts) throw new Error(`not a registry address: ${address}`);
  return parts.port === undefined ? parts.host : `${parts.host}__${parts.port}`;
}

/** The site-registry repository a mirrored repository's content is stored under; NAME_INVALID when too long. */
export function mirrorRepositoryOf(address: string, repository: string): string {
  const name = `${mirrorComponentOf(address)}/${repository}`;
  if (!isRepositoryName(name)) {
    throw new RegistryError('NAME_INVALID', `repository ${repository} of ${address} makes the site-registry name ${name.slice(0, 300)}, which is not a valid repository name (too long)`, {
      name: repository,
    });
  }
  return name;
}

/** The upstream a `?ns=` value names: a registry address, else NAME_INVALID (400): never a host to connect to. */
export function parseNamespace(ns: string): string {
  if (ns.length > 261 || !isValidRegistryAddress(ns)) {
    throw new RegistryError('NAME_INVALID', `ns ${JSON.stringify(ns.slice(0, 100))} is not a registry host name or address with an optional port`, undefined, 400);
  }
  return ns;
}
