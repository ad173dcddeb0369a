// The registry's index in SQLite (node:sqlite, WAL, synchronous=FULL: see store/sqlite-file.ts): repositories'
// manifests, their references, tags, subjects for referrers, and which repository links which blob. Blob bytes live
// in the BlobStore. The records and tables are index-records.ts'; this file is the queries.
import { SqliteFile } from '../../store/sqlite-file.js';
import { ManifestBlobUnknownError } from '../registry-error.js';
import {
  schema,
  json,
  toManifestRecord,
  toReferenceRecord,
  type ManifestRecord,
  type ReferenceRecord,
  type TagRecord,
  type PullThroughRecord,
  type EvictedRecords,
  type PageOptions,
  type ManifestRow,
  type ReferenceRow,
} from './index-records.js';

export class RegistryIndex {
  private readonly db: SqliteFile;

  constructor(path: string) {
    // WAL + FULL: a commit returns only once its WAL frame is fsync'd, so anything a client saw acknowledged survives kill -9.
    this.db = new SqliteFile(path);
    // One transaction: a new file gets its tables with one fsync rather than one per statement.
    this.db.transaction(() => this.db.exec(schema));
  }

  close(): void {
    this.db.close();
  }

  getManifest(repository: string, digest: string): ManifestRecord | undefined {
    const row = this.db.get<ManifestRow>('SELECT * FROM manifests WHERE repository = ? AND digest = ?', repository, digest);
    return row ? toManifestRecord(row) : undefined;
  }

  /**
   * The manifest without its annotations, which can be megabytes (a manifest may be all annotations): what presence
   * checks, /v2 HEAD and GET, and state summaries need, at the cost of a row lookup rather than a JSON parse.
   */
  manifestSummary(repository: string, digest: string): Omit<ManifestRecord, 'annotations' | 'sourceAnnotations'> | undefined {
    const row = this.db.get<ManifestRow>(
      `SELECT repository, digest, media_type, size, artifact_type, subject_digest, NULL AS annotations, platform, source_index_digest,
              NULL AS source_annotations, created_at FROM manifests WHERE repository = ? AND digest = ?`,
      repository,
      digest,
    );
    return row ? toManifestRecord(row) : undefined;
  }

  hasManifest(repository: string, digest: string): boolean {
    return this.db.getValues('SELECT 1 FROM manifests WHERE repository = ? AND digest = ?', repository, digest) !== undefined;
  }

  references(repository: string, manifestDigest: string): ReferenceRecord[] {
    return this.db
      .all<ReferenceRow>(
        'SELECT kind, digest, media_type, size, platform, annotations FROM manifest_references WHERE repository = ? AND manifest_digest = ? ORDER BY position',
        repository,
        manifestDigest,
      )
      .map(toReferenceRecord);
  }

  resolveTag(repository: string, tag: string): string | undefined {
    return this.db.get<{ digest: string }>('SELECT digest FROM tags WHERE repository = ? AND tag = ?', repository, tag)?.digest;
  }

  /** A repository is known once it has a manifest or a linked blob. */
  repositoryExists(repository: string): boolean {
    return (
      this.db.get('SELECT 1 FROM manifests WHERE repository = ? LIMIT 1', repository) !== undefined ||
      this.db.get('SELECT 1 FROM repository_blobs WHERE repository = ? LIMIT 1', repository) !== undefined
    );
  }

  /**
   * Records a manifest, its references and tags, and links its blobs to the repository, in one transaction.
   * A manifest already present keeps its creation time; source details are updated when given.
   * Returns the tags that moved (new, or pointing at another digest before). The child manifests an index lists
   * must be in the repository, checked in the same transaction (MANIFEST_BLOB_UNKNOWN otherwise), so no delete can
   * slip in between a check and the write.
   */
  recordManifest(record: ManifestRecord, references: ReferenceRecord[], tags: string[], now: string, pullThroughAt?: number): string[] {
    return this.db.transaction((): string[] => {
      const existed = this.getManifest(record.repository, record.digest) !== undefined;
      // Pull-through marks only what it brought in; any other store (a pull, a push) makes the manifest kept.
      if (pullThroughAt === undefined) {
        this.db.run('DELETE FROM pull_through_manifests WHERE repository = ? AND digest = ?', record.repository, record.digest);
      }
      // A pull-through index comes before its platform manifests (clients fetch them after it); any other needs them.
      const children = new Set(references.filter((r) => r.kind === 'manifest').map((r) => r.digest));
      const missing = pullThroughAt === undefined ? [...children].filter((digest) => !this.hasManifest(record.repository, digest)) : [];
      if (missing.length > 0) throw new ManifestBlobUnknownError(missing);
      this.db.run(
        `INSERT INTO manifests (repository, digest, media_type, size, artifact_type, subject_digest, annotations, platform,
                                source_index_digest, source_annotations, created_at)
         VALUES (@repository, @digest, @mediaType, @size, @artifactType, @subjectDigest, @annotations, @platform,
                 @sourceIndexDigest, @sourceAnnotations, @createdAt)
         ON CONFLICT (repository, digest) DO UPDATE SET
           platform = COALESCE(excluded.platform, platform),
           source_index_digest = COALESCE(excluded.source_index_digest, source_index_digest),
           source_annotations = COALESCE(excluded.source_annotations, source_annotations)`,
        {
          repository: record.repository,
          digest: record.digest,
          mediaType: record.mediaType,
          size: record.size,
          artifactType: record.artifactType ?? null,
          subjectDigest: record.subjectDigest ?? null,
          annotations: json(record.annotations),
          platform: record.platform ?? null,
          sourceIndexDigest: record.sourceIndexDigest ?? null,
          sourceAnnotations: json(record.sourceAnnotations),
          createdAt: record.createdAt,
        },
      );
      // The same digest is the same bytes, so its references never change; replacing them is idempotent.
      this.db.run('DELETE FROM manifest_references WHERE repository = ? AND manifest_digest = ?', record.repository, record.digest);
      const link = (digest: string) => this.db.run('INSERT OR IGNORE INTO repository_blobs (repository, digest) VALUES (?, ?)', record.repository, digest);
      link(record.digest);
      references.forEach((r, position) => {
        this.db.run(
          `INSERT INTO manifest_references (repository, manifest_digest, position, kind, digest, media_type, size, platform, annotations)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          record.repository, record.digest, position, r.kind, r.digest, r.mediaType, r.size, r.platform ?? null, json(r.annotations),
        );
        if (r.kind !== 'manifest') link(r.digest);
      });
      if (pullThroughAt !== undefined && !existed) {
        this.db.run('INSERT INTO pull_through_manifests (repository, digest, last_pulled_at) VALUES (?, ?, ?)', record.repository, record.digest, pullThroughAt);
      }
      const moved: string[] = [];
      for (const tag of tags) {
        if (this.resolveTag(record.repository, tag) === record.digest) continue;
        this.db.run(
          `INSERT INTO tags (repository, tag, digest, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
          record.repository, tag, record.digest, now,
        );
        moved.push(tag);
      }
      return moved;
    });
  }

  /** Indexes in `repository` that list the manifest `digest`, in digest order. */
  indexesListing(repository: string, digest: string): string[] {
    return this.db
      .allValues(
        "SELECT DISTINCT manifest_digest FROM manifest_references WHERE repository = ? AND digest = ? AND kind = 'manifest' ORDER BY manifest_digest",
        repository,
        digest,
      )
      .map(([manifestDigest]) => manifestDigest as string);
  }

  deleteTag(repository: string, tag: string): boolean {
    return this.db.run('DELETE FROM tags WHERE repository = ? AND tag = ?', repository, tag) > 0;
  }

  /**
   * Deletes a manifest and the tags pointing at it. With `cascade`, child manifests of a deleted index that
   * nothing else in the repository references or tags go too (deleting an image deletes its platforms).
   * Returns the digests of the manifests deleted.
   */
  deleteManifest(repository: string, digest: string, cascade: boolean): string[] {
    return this.db.transaction((): string[] => {
      const deleted: string[] = [];
      const pending = [digest];
      while (pending.length > 0) {
        const current = pending.pop()!;
        const children = cascade ? this.references(repository, current).filter((r) => r.kind === 'manifest').map((r) => r.digest) : [];
        if (this.db.run('DELETE FROM manifests WHERE repository = ? AND digest = ?', repository, current) === 0) continue;
        deleted.push(current);
        for (const child of children) {
          const stillReferenced = this.db.get(
            "SELECT 1 FROM manifest_references WHERE repository = ? AND digest = ? AND kind = 'manifest' LIMIT 1",
            repository,
            child,
          );
          const tagged = this.db.get('SELECT 1 FROM tags WHERE repository = ? AND digest = ? LIMIT 1', repository, child);
          if (!stillReferenced && !tagged) pending.push(child);
        }
      }
      return deleted;
    });
  }

  tags(repository: string): TagRecord[] {
    return this.db
      .all<{ tag: string; digest: string; updated_at: string }>('SELECT tag, digest, updated_at FROM tags WHERE repository = ? ORDER BY tag', repository)
      .map((r) => ({ tag: r.tag, digest: r.digest, updatedAt: r.updated_at }));
  }

  /** Tag names in byte ("ASCIIbetical") order, which is SQLite's default BINARY collation. */
  tagNames(repository: string, page: PageOptions): string[] {
    return this.db
      .all<{ tag: string }>('SELECT tag FROM tags WHERE repository = ? AND tag > ? ORDER BY tag LIMIT ?', repository, page.after ?? '', page.limit)
      .map((r) => r.tag);
  }

  /** Repositories that hold at least one manifest, in byte order. */
  repositoryNames(page: PageOptions): string[] {
    return this.db
      .all<{ repository: string }>('SELECT DISTINCT repository FROM manifests WHERE repository > ? ORDER BY repository LIMIT ?', page.after ?? '', page.limit)
      .map((r) => r.repository);
  }

  referrers(repository: string, subjectDigest: string): ManifestRecord[] {
    return this.db
      .all<ManifestRow>('SELECT * FROM manifests WHERE repository = ? AND subject_digest = ? ORDER BY created_at, digest', repository, subjectDigest)
      .map(toManifestRecord);
  }

  linkBlob(repository: string, digest: string): void {
    this.db.run('INSERT OR IGNORE INTO repository_blobs (repository, digest) VALUES (?, ?)', repository, digest);
  }

  unlinkBlob(repository: string, digest: string): boolean {
    return this.db.run('DELETE FROM repository_blobs WHERE repository = ? AND digest = ?', repository, digest) > 0;
  }

  isBlobLinked(repository: string, digest: string): boolean {
    return this.db.get('SELECT 1 FROM repository_blobs WHERE repository = ? AND digest = ?', repository, digest) !== undefined;
  }

  /** Every blob some manifest needs: the manifests' own bytes, their configs and layers. */
  referencedBlobs(): Set<string> {
    const rows = this.db.all<{ digest: string }>("SELECT digest FROM manifests UNION SELECT digest FROM manifest_references WHERE kind IN ('config', 'layer')");
    return new Set(rows.map((r) => r.digest));
  }

  /** Forgets every repository's link to a blob that garbage collection removed. */
  dropBlobLinks(digest: string): void {
    this.db.run('DELETE FROM repository_blobs WHERE digest = ?', digest);
  }

  /** Whether some manifest needs the blob: as its own bytes, its config or a layer. */
  isBlobReferenced(digest: string): boolean {
    return (
      this.db.getValues('SELECT 1 FROM manifests WHERE digest = ? LIMIT 1', digest) !== undefined ||
      this.db.getValues("SELECT 1 FROM manifest_references WHERE digest = ? AND kind IN ('config', 'layer') LIMIT 1", digest) !== undefined
    );
  }

  /** The size a manifest of `repository` gives the blob, when one references it. */
  referencedBlobSize(repository: string, digest: string): number | undefined {
    return this.db.get<{ size: number }>(
      "SELECT size FROM manifest_references WHERE digest = ? AND repository = ? AND kind IN ('config', 'layer') LIMIT 1",
      digest,
      repository,
    )?.size;
  }

  /** Records a pull of a pull-through manifest, when the time stored is older than `staleBefore`. */
  touchPullThrough(repository: string, digest: string, at: number, staleBefore: number): void {
    this.db.run('UPDATE pull_through_manifests SET last_pulled_at = ? WHERE repository = ? AND digest = ? AND last_pulled_at < ?', at, repository, digest, staleBefore);
  }

  /** Pull-through manifests no other manifest of their repository lists: the images eviction takes whole. */
  pullThroughRoots(): PullThroughRecord[] {
    const rows = this.db.all<{ repository: string; digest: string; last_pulled_at: number }>(`
      SELECT p.repository, p.digest, p.last_pulled_at FROM pull_through_manifests p
      WHERE NOT EXISTS (SELECT 1 FROM manifest_references r WHERE r.digest = p.digest AND r.repository = p.repository AND r.kind = 'manifest')
    `);
    return rows.map((r) => ({ repository: r.repository, digest: r.digest, lastPulledAt: r.last_pulled_at }));
  }

  /** The pull-through manifests an image holds: itself and the platform manifests it lists that arrived likewise. */
  pullThroughMembers(repository: string, digest: string): PullThroughRecord[] {
    const rows = this.db.all<{ repository: string; digest: string; last_pulled_at: number }>(
      `SELECT p.repository, p.digest, p.last_pulled_at FROM pull_through_manifests p
       WHERE p.repository = ? AND (p.digest = ? OR p.digest IN (
         SELECT r.digest FROM manifest_references r WHERE r.repository = ? AND r.manifest_digest = ? AND r.kind = 'manifest'))`,
      repository,
      digest,
      repository,
      digest,
    );
    return rows.map((r) => ({ repository: r.repository, digest: r.digest, lastPulledAt: r.last_pulled_at }));
  }

  /**
   * Deletes a pull-through image: the manifest, its tags, and the pull-through platform manifests it lists that
   * nothing else in the repository lists or tags. Kept manifests are never deleted here.
   */
  evictPullThrough(repository: string, digest: string): EvictedRecords {
    return this.db.transaction((): EvictedRecords => {
      const evicted: EvictedRecords = { manifests: [], tags: [], blobs: [] };
      const pending = [digest];
      while (pending.length > 0) {
        const current = pending.pop()!;
        if (this.db.getValues('SELECT 1 FROM pull_through_manifests WHERE repository = ? AND digest = ?', repository, current) === undefined) continue;
        const references = this.references(repository, current);
        const tags = this.db.all<{ tag: string }>('SELECT tag FROM tags WHERE repository = ? AND digest = ? ORDER BY tag', repository, current).map((t) => t.tag);
        if (this.db.run('DELETE FROM manifests WHERE repository = ? AND digest = ?', repository, current) === 0) continue;
        evicted.manifests.push(current);
        evicted.tags.push(...tags);
        evicted.blobs.push(current, ...references.filter((r) => r.kind !== 'manifest').map((r) => r.digest));
        for (const child of references.filter((r) => r.kind === 'manifest')) {
          const listed = this.db.getValues("SELECT 1 FROM manifest_references WHERE repository = ? AND digest = ? AND kind = 'manifest' LIMIT 1", repository, child.digest);
          const tagged = this.db.getValues('SELECT 1 FROM tags WHERE repository = ? AND digest = ? LIMIT 1', repository, child.digest);
          if (!listed && !tagged) pending.push(child.digest);
        }
      }
      evicted.blobs = [...new Set(evicted.blobs)];
      return evicted;
    });
  }
}
