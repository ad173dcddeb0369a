// Which credential entry of a remote registry applies to a repository: the entry whose repository is the longest
// prefix of it on a path-segment boundary (`avassa-public` covers `avassa-public/x`, not `avassa-publicity/x`);
// `*` covers everything and loses to any other match. No match: anonymous access.
import type { RegistryCredentialRef } from './remote-registry.js';
import { coversRepository } from './repository-pattern.js';

/** `'*'` asks for the registry-wide entry (the catalog, a plain login check). */
export function resolveCredentialEntry(entries: readonly RegistryCredentialRef[], repository: string): RegistryCredentialRef | undefined {
  let best: RegistryCredentialRef | undefined;
  for (const entry of entries) {
    if (entry.repository === '*') {
      best ??= entry;
      continue;
    }
    if (repository === '*') continue;
    if (coversRepository(entry.repository, repository) && (best === undefined || best.repository === '*' || entry.repository.length > best.repository.length)) best = entry;
  }
  return best;
}
