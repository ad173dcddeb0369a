// The repositories of the site registry as /v1 state shows them: each tag with its digest, media type, platforms and
// the bytes it reaches, and what one tag or digest holds (for a site's desired images).
import { isTag, requireRepository } from './repository-name.js';
import type { ManifestRecord } from './storage/index-records.js';
import type { RegistryIndex } from './storage/registry-index.js';

export interface ImageTagSummary {
  tag: string;
  digest: string;
  mediaType: string;
  /** `os/arch[/variant]` of each image the tag covers; attestation entries (`unknown/unknown`) are left out. */
  platforms: string[];
  /** Bytes of every distinct manifest, config and layer the tag reaches. */
  size: number;
  updatedAt: string;
  /** For a single platform pulled out of a remote index: that index's digest. */
  sourceIndexDigest?: string;
}

export interface RepositorySummary {
  name: string;
  tags: ImageTagSummary[];
}

export class RepositorySummaries {
  constructor(private readonly index: RegistryIndex) {}

  async list(): Promise<RepositorySummary[]> {
    const names: string[] = [];
    for (let page = this.index.repositoryNames({ limit: 1000 }); page.length > 0; page = this.index.repositoryNames({ limit: 1000, after: page.at(-1)! })) {
      names.push(...page);
    }
    return names.map((name) => this.summarise(name));
  }

  async get(name: string): Promise<RepositorySummary> {
    requireRepository(this.index, name);
    return this.summarise(name);
  }

  /** What `reference` (a tag or digest) of `repository` holds: its digest, the bytes it reaches, its platforms; undefined when absent. */
  imageSummary(repository: string, reference: string): { digest: string; size: number; platforms: string[]; sourceIndexDigest?: string } | undefined {
    const digest = isTag(reference) ? this.index.resolveTag(repository, reference) : reference;
    const manifest = digest === undefined ? undefined : this.index.getManifest(repository, digest);
    if (!manifest) return undefined;
    return {
      digest: manifest.digest,
      size: this.totalSize(manifest),
      platforms: this.platformsOf(manifest),
      ...(manifest.sourceIndexDigest ? { sourceIndexDigest: manifest.sourceIndexDigest } : {}),
    };
  }

  private summarise(name: string): RepositorySummary {
    const tags = this.index.tags(name).flatMap((t): ImageTagSummary[] => {
      const manifest = this.index.manifestSummary(name, t.digest);
      if (!manifest) return [];
      return [{
        tag: t.tag,
        digest: t.digest,
        mediaType: manifest.mediaType,
        platforms: this.platformsOf(manifest),
        size: this.totalSize(manifest),
        updatedAt: t.updatedAt,
        ...(manifest.sourceIndexDigest ? { sourceIndexDigest: manifest.sourceIndexDigest } : {}),
      }];
    });
    return { name, tags };
  }

  private platformsOf(manifest: Pick<ManifestRecord, 'repository' | 'digest' | 'platform'>): string[] {
    const references = this.index.references(manifest.repository, manifest.digest).filter((r) => r.kind === 'manifest');
    if (references.length === 0) return manifest.platform ? [manifest.platform] : [];
    // Only platforms whose manifest is here: an index may never list one that is gone, but state must not claim it.
    const children = new Map<string, ReturnType<RegistryIndex['manifestSummary']>>();
    const childOf = (digest: string) => {
      if (!children.has(digest)) children.set(digest, this.index.manifestSummary(manifest.repository, digest));
      return children.get(digest);
    };
    const platforms = references
      .map((r) => {
        const child = childOf(r.digest);
        return child && (r.platform ?? child.platform);
      })
      .filter((p): p is string => p !== undefined && p !== 'unknown/unknown');
    return [...new Set(platforms)];
  }

  private totalSize(root: Pick<ManifestRecord, 'repository' | 'digest' | 'size'>): number {
    const sizes = new Map<string, number>([[root.digest, root.size]]);
    const pending = [root.digest];
    while (pending.length > 0) {
      for (const r of this.index.references(root.repository, pending.pop()!)) {
        if (sizes.has(r.digest)) continue;
        sizes.set(r.digest, r.size);
        if (r.kind === 'manifest' && this.index.hasManifest(root.repository, r.digest)) pending.push(r.digest);
      }
    }
    return [...sizes.values()].reduce((a, b) => a + b, 0);
  }
}
