// The audit trail: who changed which configuration object, when, and from which revision to which. Its records are
// written by the config store itself, in the transaction of each write made with a context (store/config-store.ts),
// so a write and its record survive a crash together or not at all; this module reads them as the contract's
// AuditEntry (newest first, filtered, paged) and keeps them within the retention settings.
import type { Logger } from 'pino';
import type { AuditRecord, ConfigStore } from '../store/config-store.js';
import { keySegment } from '../http/config-list-routes.js';

/** How much of the trail is kept: the newest `maxEntries`, none older than `maxAgeMs`; undefined is no limit. */
export interface AuditRetention {
  maxEntries: number | undefined;
  maxAgeMs: number | undefined;
}

/** The contract's AuditEntry. */
export interface AuditEntry {
  id: number;
  time: string;
  principal: string;
  'principal-kind': 'token' | 'sso' | 'system';
  'principal-name'?: string;
  issuer?: string;
  method: string;
  path: string;
  'revision-before'?: number;
  'revision-after': number;
  'request-id'?: string;
  site: string;
}

export interface AuditQuery {
  /** Only writes to this path or below it (segment boundary), compared with percent-encoding decoded. */
  path?: string;
  principal?: string;
  /** Only entries with an id below this. */
  before?: number;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Set when more entries match: the `before` of the next page. */
  next?: number;
}

export interface AuditTrailOptions {
  /** This Berth's name among sites: every record in its store was written here. */
  siteName: string;
  retention: AuditRetention;
  logger?: Logger;
  /** How often old records are dropped (they are also dropped before every read). Default one minute. */
  trimIntervalMs?: number;
  now?: () => number;
}

const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Records read from the store at a time while looking for matching entries. */
const SCAN_PAGE = 500;

/**
 * The API path of a store key, spelled as the Location header of the object: `config/...` is `/v1/config/...`, and
 * the tokens under `system/` are `/v1/config/system/...`. The last segment is the object's key (which holds no `/`).
 */
export function apiPathOf(key: string): string {
  const at = key.lastIndexOf('/');
  const tree = key.slice(0, at);
  return `/v1/${tree.startsWith('system/') ? `config/${tree}` : tree}/${keySegment(key.slice(at + 1))}`;
}

const decodedPath = (path: string) => path.split('/').map((segment) => decodeURIComponent(segment)).join('/');

/** Whether `path` is `prefix` or below it; `prefix` is compared as decoded (as a query parameter arrives). */
export const isUnder = (path: string, prefix: string): boolean => {
  const decoded = decodedPath(path);
  return decoded === prefix || decoded.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
};

export function entryOf(record: AuditRecord, site: string): AuditEntry {
  const { author, requestId, method } = record.context;
  return {
    id: record.id,
    time: record.at,
    principal: author.kind === 'sso' ? (author.subject ?? author.name) : author.name,
    'principal-kind': author.kind,
    ...(author.kind === 'sso' ? { 'principal-name': author.name } : {}),
    ...(author.issuer !== undefined ? { issuer: author.issuer } : {}),
    // Berth's own writes (a site's copies of the tower's configuration) are puts and deletes by key.
    method: method !== undefined && WRITE_METHODS.has(method) ? method : record.type === 'put' ? 'PUT' : 'DELETE',
    path: apiPathOf(record.key),
    ...(record.previousRevision !== undefined ? { 'revision-before': record.previousRevision } : {}),
    'revision-after': record.revision,
    ...(requestId !== undefined ? { 'request-id': requestId } : {}),
    site,
  };
}

export class AuditTrail {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private trimming: Promise<number> | undefined;

  constructor(
    private readonly store: ConfigStore,
    private readonly options: AuditTrailOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Drops old records now and every trim interval from now on. */
  start(): void {
    void this.trimQuietly();
    this.timer ??= setInterval(() => void this.trimQuietly(), this.options.trimIntervalMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Drops the records the retention no longer keeps; concurrent callers share one trim. Answers how many went. */
  trim(): Promise<number> {
    const { maxEntries, maxAgeMs } = this.options.retention;
    if (maxEntries === undefined && maxAgeMs === undefined) return Promise.resolve(0);
    this.trimming ??= this.store
      .trimAuditRecords({
        ...(maxEntries !== undefined ? { keep: maxEntries } : {}),
        ...(maxAgeMs !== undefined ? { olderThan: new Date(this.now() - maxAgeMs) } : {}),
      })
      .finally(() => (this.trimming = undefined));
    return this.trimming;
  }

  /** A trim whose failure (the store unavailable for writes) is logged; reads then still honour the age limit. */
  private async trimQuietly(): Promise<void> {
    try {
      await this.trim();
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'could not drop old audit records; trying again later');
    }
  }

  /** Matching entries, newest first, kept by the retention: each in turn, until `stop` says enough. */
  private async scan(query: AuditQuery, take: (entry: AuditEntry) => boolean): Promise<void> {
    await this.trimQuietly();
    const { maxAgeMs } = this.options.retention;
    const oldest = maxAgeMs === undefined ? undefined : new Date(this.now() - maxAgeMs).toISOString();
    for (let before = query.before; ; ) {
      const records = await this.store.auditRecords({ ...(before !== undefined ? { before } : {}), limit: SCAN_PAGE });
      for (const record of records) {
        if (oldest !== undefined && record.at < oldest) return;
        const entry = entryOf(record, this.options.siteName);
        if (query.principal !== undefined && entry.principal !== query.principal) continue;
        if (query.path !== undefined && !isUnder(entry.path, query.path)) continue;
        if (!take(entry)) return;
      }
      if (records.length < SCAN_PAGE) return;
      before = records.at(-1)!.id;
    }
  }

  /** At most `limit` matching entries, newest first, and where the next page starts when more match. */
  async read(query: AuditQuery, limit: number): Promise<AuditPage> {
    const entries: AuditEntry[] = [];
    let more = false;
    await this.scan(query, (entry) => {
      if (entries.length === limit) {
        more = true;
        return false;
      }
      entries.push(entry);
      return true;
    });
    return { entries, ...(more ? { next: entries.at(-1)!.id } : {}) };
  }

  async count(query: AuditQuery): Promise<number> {
    let count = 0;
    await this.scan(query, () => {
      count++;
      return true;
    });
    return count;
  }
}
