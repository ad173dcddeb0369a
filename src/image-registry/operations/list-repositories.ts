// list-repositories: every repository in the registry's catalog (`/v2/_catalog`, every page), read with the
// registry-wide (`*`) credentials. A registry without a catalog is an upstream failure that says so.
import type { OperationDeps } from '../operation-deps.js';
import { callRegistry } from './upstream-call.js';

export interface ListRepositoriesAnswer {
  repositories: string[];
}

export async function listRepositories(deps: OperationDeps, address: string): Promise<ListRepositoriesAnswer> {
  const client = deps.clients.clientFor(await deps.registries.get(address));
  // Sorted: distribution sorts its catalog, other registries need not.
  const repositories = await callRegistry(client, () => client.listRepositories());
  return { repositories: repositories.sort() };
}
