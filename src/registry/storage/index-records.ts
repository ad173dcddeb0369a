// The records of the registry's index (manifests, references, tags, pull-through roots) as the rest of the site
// registry sees them, the SQLite tables that hold them, and how a row becomes a record (registry-index.ts queries).

export type ReferenceKind = 'config' | 'layer' | 'manifest';

export interface ManifestRecord {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  /** As the referrers API reports it. */
  artifactType?: string;
  subjectDigest?: string;
  annotations?: Record<string, string>;
  /** `os/arch[/variant]` of an image manifest, read from its config. */
  platform?: string;
  /** The remote index this manifest was picked from by a single-platform pull. */
  sourceIndexDigest?: string;
  /** Annotations of the source index's entry for this manifest (e.g. attestation links). */
  sourceAnnotations?: Record<string, string>;
  createdAt: string;
}

export interface ReferenceRecord {
  kind: ReferenceKind;
  digest: string;
  mediaType: string;
  size: number;
  /** Index entries only. */
  platform?: string;
  annotations?: Record<string, string>;
}

export interface TagRecord {
  tag: string;
  digest: string;
  updatedAt: string;
}

/** A manifest that arrived by pull-through (and may be evicted), with when a client last pulled it. */
export interface PullThroughRecord {
  repository: string;
  digest: string;
  /** Milliseconds since the epoch, as stored (kept coarse: see SiteRegistry.touchPullThrough). */
  lastPulledAt: number;
}

/** What evicting one pull-through image took out of the index. */
export interface EvictedRecords {
  /** The manifests deleted: the image and those of its platforms nothing else in the repository uses. */
  manifests: string[];
  tags: string[];
  /** Blobs those manifests referenced (and their own bytes): removable once nothing else references them. */
  blobs: string[];
}

export interface PageOptions {
  /** Maximum entries to return. */
  limit: number;
  /** Return entries strictly after this one. */
  after?: string;
}

export type ManifestRow = {
  repository: string;
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  subject_digest: string | null;
  annotations: string | null;
  platform: string | null;
  source_index_digest: string | null;
  source_annotations: string | null;
  created_at: string;
};

export type ReferenceRow = {
  kind: ReferenceKind;
  digest: string;
  media_type: string;
  size: number;
  platform: string | null;
  annotations: string | null;
};

export const schema = `
CREATE TABLE IF NOT EXISTS manifests (
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  artifact_type TEXT,
  subject_digest TEXT,
  annotations TEXT,
  platform TEXT,
  source_index_digest TEXT,
  source_annotations TEXT,
  created_at TEXT NOT NULL,
  PRIMARY KEY (repository, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests (repository, subject_digest) WHERE subject_digest IS NOT NULL;
CREATE TABLE IF NOT EXISTS manifest_references (
  repository TEXT NOT NULL,
  manifest_digest TEXT NOT NULL,
  position INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('config', 'layer', 'manifest')),
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  platform TEXT,
  annotations TEXT,
  PRIMARY KEY (repository, manifest_digest, position),
  FOREIGN KEY (repository, manifest_digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_references_by_digest ON manifest_references (digest, repository);
CREATE TABLE IF NOT EXISTS tags (
  repository TEXT NOT NULL,
  tag TEXT NOT NULL,
  digest TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (repository, tag),
  FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (repository, digest);
CREATE TABLE IF NOT EXISTS repository_blobs (
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (repository, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repository_blobs_by_digest ON repository_blobs (digest);
CREATE INDEX IF NOT EXISTS manifests_by_digest ON manifests (digest);
CREATE TABLE IF NOT EXISTS pull_through_manifests (
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  last_pulled_at INTEGER NOT NULL,
  PRIMARY KEY (repository, digest),
  FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
) WITHOUT ROWID;
`;

export const json = (value: Record<string, string> | undefined): string | null =>
  value && Object.keys(value).length > 0 ? JSON.stringify(value) : null;
export const parseJson = (value: string | null): Record<string, string> | undefined =>
  value === null ? undefined : (JSON.parse(value) as Record<string, string>);

export function toManifestRecord(row: ManifestRow): ManifestRecord {
  const annotations = parseJson(row.annotations);
  const sourceAnnotations = parseJson(row.source_annotations);
  return {
    repository: row.repository,
    digest: row.digest,
    mediaType: row.media_type,
    size: row.size,
    ...(row.artifact_type !== null ? { artifactType: row.artifact_type } : {}),
    ...(row.subject_digest !== null ? { subjectDigest: row.subject_digest } : {}),
    ...(annotations ? { annotations } : {}),
    ...(row.platform !== null ? { platform: row.platform } : {}),
    ...(row.source_index_digest !== null ? { sourceIndexDigest: row.source_index_digest } : {}),
    ...(sourceAnnotations ? { sourceAnnotations } : {}),
    createdAt: row.created_at,
  };
}

export function toReferenceRecord(row: ReferenceRow): ReferenceRecord {
  const annotations = parseJson(row.annotations);
  return {
    kind: row.kind,
    digest: row.digest,
    mediaType: row.media_type,
    size: row.size,
    ...(row.platform !== null ? { platform: row.platform } : {}),
    ...(annotations ? { annotations } : {}),
  };
}
