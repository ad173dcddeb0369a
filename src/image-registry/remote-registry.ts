// A remote registry's configuration: where it is, which CA to trust, and which secret to use per repository.
import type { SchemaProblem } from '../contract/openapi.js';
import type { ConfigListSpec } from '../config/config-list.js';
import { caCertProblem } from '../ca-cert.js';
import { registryAddressProblem } from './registry-address.js';
import { mirrorAddressProblem } from './mirror/mirror-names.js';

export interface RegistryCredentialRef {
  /** `*` or a repository path; the longest matching prefix wins. */
  repository: string;
  /** A KV version 2 mount in the secret store. */
  vault: string;
  /** A secret path in that mount holding `username`/`password` or `token`. */
  secret: string;
}

/** Pull-through of this registry for the site's container runtimes (image-registry/mirror/). */
export interface RemoteRegistryMirror {
  enabled: boolean;
  /** Repository patterns that may be fetched on demand; absent: every repository. */
  repositories?: string[];
  /** A manifest by tag is checked upstream at most this often; default DEFAULT_TAG_RECHECK_SECONDS. */
  'tag-recheck-seconds'?: number;
}

export const DEFAULT_TAG_RECHECK_SECONDS = 60;

export interface RemoteRegistry {
  address: string;
  'override-address'?: string;
  'ca-cert'?: string;
  credentials?: RegistryCredentialRef[];
  mirror?: RemoteRegistryMirror;
}

export const REMOTE_REGISTRIES_PREFIX = 'config/image-registry/remote-registries/';

function remoteRegistryProblems(registry: RemoteRegistry): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const field of ['address', 'override-address'] as const) {
    const value = registry[field];
    const problem = value === undefined ? undefined : registryAddressProblem(value);
    if (problem) problems.push({ pointer: `/${field}`, message: problem });
  }
  const caCert = registry['ca-cert'];
  const caProblem = caCert === undefined ? undefined : caCertProblem(caCert);
  if (caProblem) problems.push({ pointer: '/ca-cert', message: caProblem });
  const mirrorProblem = registry.mirror?.enabled ? mirrorAddressProblem(registry.address) : undefined;
  if (mirrorProblem) problems.push({ pointer: '/mirror/enabled', message: mirrorProblem });
  return problems;
}

export const remoteRegistrySpec: ConfigListSpec<RemoteRegistry> = {
  noun: 'remote registry',
  prefix: REMOTE_REGISTRIES_PREFIX,
  keyField: 'address',
  schema: 'RemoteRegistry',
  keyedLists: { credentials: 'repository' },
  semanticProblems: remoteRegistryProblems,
};
