// The etcd ConfigStore engine, for several Berth processes serving one configuration: etcd's own revisions are the
// store's, every write is one transaction (compare-and-set plus a last-write marker), and the change feed is etcd's watch.
// An audited write (one with a context) puts its audit record in that same transaction, numbered by the marker's
// version: every Berth write rewrites the marker, so its version counts the writes, and the records sort by it.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Etcd3, isRecoverableError, type ICompare, type IKeyValue, type IRequestOp, type ITxnRequest, type ITxnResponse } from 'etcd3';
import { BerthError, isBerthError, notFound, unavailable } from '../errors.js';
import { checkWriteCondition } from './write-condition.js';
import type { AuditRecord, AuditTrim, ConfigStore, StoreChange, StoreEntry, StoredJson, StoredValue, WriteCondition, WriteContext, WriteResult } from './config-store.js';
import { RangeWatch, type RevisionEvents } from './etcd-watch.js';
import { clientOptions, type EtcdStoreSettings } from './etcd-connection.js';
import { EtcdAuditLog } from './etcd-audit-log.js';
import { compareFor, lastWriteOf, prefixEnd, unwrap, unwrapOrUndefined, utf8, type LastWrite, type Wrapped } from './etcd-records.js';
import { RevisionCompactedError } from './revision-compacted.js';

export type { EtcdStoreSettings };

export interface EtcdStoreOptions {
  logger?: Logger;
  /** How long a request keeps retrying transient failures (a killed member, a leader election) before a 503. */
  retryForMs?: number;
}

const DATA = 'kv/';
const LAST_WRITE = 'last-write';
const AUDIT = 'audit/';
const HEALTH_TIMEOUT_MS = 1_000;
const DEFAULT_RETRY_FOR_MS = 10_000;
const LIST_PAGE = 500;

const isTransient = (e: unknown) => e instanceof Error && !isBerthError(e) && isRecoverableError(e);
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
const isCompactedError = (e: unknown) => /required revision has been compacted/.test(messageOf(e));

export class EtcdConfigStore implements ConfigStore {
  private readonly client: Etcd3;
  private readonly dataPrefix: string;
  private readonly rootKey: Buffer;
  private readonly lastWriteKey: Buffer;
  private readonly audit: EtcdAuditLog;
  private readonly watches = new Set<RangeWatch>();
  private readonly logger: Logger | undefined;
  private readonly retryForMs: number;
  private closed = false;
  /** Set when a watch() subscription ended for good: its follower is stale from then on, so the store reports unhealthy. */
  private brokenWatch: Error | undefined;

  constructor(settings: EtcdStoreSettings, options: EtcdStoreOptions = {}) {
    this.client = new Etcd3(clientOptions(settings));
    this.rootKey = utf8(settings.prefix);
    this.dataPrefix = settings.prefix + DATA;
    this.lastWriteKey = utf8(settings.prefix + LAST_WRITE);
    this.audit = new EtcdAuditLog(this.client, utf8(settings.prefix + AUDIT), (what, call) => this.attempt(what, call));
    this.logger = options.logger;
    this.retryForMs = options.retryForMs ?? DEFAULT_RETRY_FOR_MS;
  }

  private dataKey(key: string): Buffer {
    return utf8(this.dataPrefix + key);
  }

  /** Runs `call`, again on transient failures (on a random member each time) until `retryForMs` has passed. */
  private async attempt<T>(what: string, call: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.retryForMs;
    for (let pauseMs = 25; ; pauseMs = Math.min(pauseMs * 2, 500)) {
      if (this.closed) throw unavailable('the configuration store is closed', 1);
      try {
        return await call();
      } catch (error) {
        if (!isTransient(error) || Date.now() + pauseMs > deadline) throw this.describe(error, what);
        await sleep(pauseMs * (0.5 + Math.random()));
      }
    }
  }

  private describe(error: unknown, what: string): Error {
    if (isBerthError(error)) return error;
    if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) return error;
    const message = messageOf(error);
    if (/request is too large/.test(message)) {
      return new BerthError('payload-too-large', 'the value is larger than the configuration store (etcd) takes in one request');
    }
    return unavailable(`the configuration store (etcd) cannot ${what}: ${message}`, 1);
  }

  private toEntry(kv: IKeyValue): StoreEntry {
    const { value, at, context } = unwrap(kv);
    return {
      key: kv.key.toString('utf8').slice(this.dataPrefix.length),
      value,
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      updatedAt: at,
      ...(context ? { writeContext: context } : {}),
    };
  }

  /** One write transaction: `condition` compared, then the marker and `op` on success, else the key and marker read back. */
  private async commit(key: string, op: IRequestOp, compare: ICompare[], marker: LastWrite): Promise<ITxnResponse> {
    const request: ITxnRequest = {
      compare,
      // The marker first: a watcher meets a revision's write time before its data (a delete event carries none).
      success: [{ request_put: { key: this.lastWriteKey, value: utf8(JSON.stringify(marker)) } }, op],
      failure: [{ request_range: { key: this.dataKey(key) } }, { request_range: { key: this.lastWriteKey } }],
    };
    // The same request (same write id) is sent again after a transient failure: the first may have been applied.
    return this.attempt('write', () => this.client.kv.txn(request));
  }

  auditRecords(options: { before?: number; limit: number }): Promise<AuditRecord[]> {
    return this.audit.records(options);
  }

  trimAuditRecords(trim: AuditTrim): Promise<number> {
    return this.audit.trim(trim);
  }

  async get(key: string): Promise<StoreEntry | undefined> {
    const { kvs } = await this.attempt('read', () => this.client.kv.range({ key: this.dataKey(key) }));
    return kvs[0] && this.toEntry(kvs[0]);
  }

  async getJson(key: string): Promise<StoredJson | undefined> {
    const entry = await this.get(key);
    return entry && { json: JSON.stringify(entry.value), modRevision: entry.modRevision };
  }

  async list(prefix: string): Promise<StoreEntry[]> {
    const start = this.dataKey(prefix);
    const end = prefixEnd(start);
    const entries: StoreEntry[] = [];
    // Pages after the first read at the first page's revision, so the whole list is one consistent snapshot.
    let revision: string | undefined;
    for (let from = start; ; ) {
      const page = await this.attempt('read', () =>
        this.client.kv.range({ key: from, range_end: end, limit: LIST_PAGE, ...(revision ? { revision } : {}) }),
      );
      revision ??= page.header.revision;
      entries.push(...page.kvs.map((kv) => this.toEntry(kv)));
      if (!page.more || page.kvs.length === 0) return entries;
      from = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
    }
  }

  async put(key: string, value: StoredValue, condition?: WriteCondition, context?: WriteContext): Promise<WriteResult> {
    const write = randomBytes(12).toString('base64url');
    const marker: LastWrite = { at: new Date().toISOString(), write, ...(context ? { context } : {}) };
    const wrapped: Wrapped = { value, ...marker };
    const dataKey = this.dataKey(key);
    const op: IRequestOp = { request_put: { key: dataKey, value: utf8(JSON.stringify(wrapped)), prev_kv: true } };
    const response = context
      ? await this.audit.commitAudited({ key, dataKey, lastWriteKey: this.lastWriteKey }, 'put', op, condition, marker, context)
      : await this.commit(key, op, compareFor(dataKey, condition), marker);
    if (response.succeeded) {
      const previous = response.responses[1]?.response_put.prev_kv;
      const existed = previous !== null && previous !== undefined && previous.key.length > 0;
      // Applied twice (a retry after a lost answer) finds itself as the previous value: the first decided `created`.
      const mine = existed && unwrapOrUndefined(previous)?.write === write;
      return { revision: Number(response.header.revision), created: !existed || (mine && previous.create_revision === previous.mod_revision) };
    }
    const current = response.responses[0]?.response_range.kvs[0];
    if (current && unwrapOrUndefined(current)?.write === write) {
      return { revision: Number(current.mod_revision), created: current.create_revision === current.mod_revision };
    }
    checkWriteCondition(key, current === undefined ? undefined : Number(current.mod_revision), condition);
    throw new BerthError('internal', `etcd refused the write of ${key} although its condition holds`);
  }

  async delete(key: string, condition?: WriteCondition, context?: WriteContext): Promise<WriteResult> {
    const write = randomBytes(12).toString('base64url');
    const dataKey = this.dataKey(key);
    // Present, and whatever the condition asks; `absent` contradicts present, so it always ends in the error below.
    const compare = [...compareFor(dataKey, { kind: 'present' }), ...compareFor(dataKey, condition)];
    const lastWrite: LastWrite = { at: new Date().toISOString(), write, ...(context ? { context } : {}) };
    const op: IRequestOp = { request_delete_range: { key: dataKey } };
    const response = context
      ? await this.audit.commitAudited({ key, dataKey, lastWriteKey: this.lastWriteKey }, 'delete', op, condition, lastWrite, context)
      : await this.commit(key, op, compare, lastWrite);
    if (response.succeeded) return { revision: Number(response.header.revision), created: false };
    const current = response.responses[0]?.response_range.kvs[0];
    const marker = response.responses[1]?.response_range.kvs[0];
    // Gone, and the last write was this one: an earlier try whose answer was lost did the delete.
    if (!current && lastWriteOf(marker)?.write === write) return { revision: Number(marker!.mod_revision), created: false };
    checkWriteCondition(key, current === undefined ? undefined : Number(current.mod_revision), condition);
    if (!current) throw notFound(`${key} does not exist`);
    throw new BerthError('internal', `etcd refused the delete of ${key} although its condition holds`);
  }

  /** The revision of the last write through any Berth on this prefix (0 before the first); a linearizable read. */
  async revision(): Promise<number> {
    const { kvs } = await this.attempt('read', () => this.client.kv.range({ key: this.lastWriteKey, keys_only: true }));
    return Number(kvs[0]?.mod_revision ?? 0);
  }

  /** The store changes among one revision's events: the marker and keys outside the data prefix left out. */
  private changesOf(group: RevisionEvents): StoreChange[] {
    const marker = group.events.find((e) => e.kv.key.equals(this.lastWriteKey));
    const lastWrite = lastWriteOf(marker?.kv);
    const markerAt = lastWrite?.at;
    const changes: StoreChange[] = [];
    for (const event of group.events) {
      const key = event.kv.key.toString('utf8');
      if (!key.startsWith(this.dataPrefix)) continue;
      const common = { revision: group.revision, key: key.slice(this.dataPrefix.length) };
      // proto-loader gives enum names as in the .proto file (PUT, DELETE), whatever the typings say.
      if (String(event.type).toUpperCase() === 'DELETE') {
        changes.push({ ...common, type: 'delete', at: markerAt ?? new Date().toISOString(), ...(lastWrite?.context ? { writeContext: lastWrite.context } : {}) });
        continue;
      }
      const wrapped = unwrapOrUndefined(event.kv);
      if (!wrapped) {
        this.logger?.warn({ key }, 'etcd change feed: skipped a key under the Berth prefix that Berth did not write');
        continue;
      }
      changes.push({ ...common, type: 'put', value: wrapped.value, at: markerAt ?? wrapped.at, ...(wrapped.context ? { writeContext: wrapped.context } : {}) });
    }
    return changes;
  }

  /**
   * etcd compacted the history up to `compactRevision`, past `after`. When no Berth write happened in between (the
   * marker at `compactRevision` is not newer than `after`), nothing was lost and the feed goes on after it; else it fails.
   */
  private async resumeAfterCompaction(after: number, compactRevision: number): Promise<number> {
    const state = await this.attempt('read', async () => {
      try {
        return await this.client.kv.range({ key: this.lastWriteKey, revision: compactRevision, keys_only: true });
      } catch (error) {
        if (isCompactedError(error)) return undefined;
        throw error;
      }
    });
    // No marker at all: nothing was ever written under this prefix up to there.
    if (state && Number(state.kvs[0]?.mod_revision ?? 0) <= after) return compactRevision + 1;
    throw new RevisionCompactedError(after, compactRevision);
  }

  private openWatch(
    afterRevision: number,
    onChanges: (changes: StoreChange[], revision: number) => void,
    onFailure: (error: Error) => void,
    onCompactedResume?: () => void,
  ): RangeWatch {
    const watch = new RangeWatch({
      client: this.client,
      key: this.rootKey,
      rangeEnd: prefixEnd(this.rootKey),
      startRevision: afterRevision + 1,
      onRevision: (group) => onChanges(this.changesOf(group), group.revision),
      onCompacted: async (next, compactRevision) => {
        const from = await this.resumeAfterCompaction(next - 1, compactRevision);
        onCompactedResume?.();
        return from;
      },
      onFailure: (error) => {
        this.watches.delete(watch);
        onFailure(error);
      },
      // Any unary call refreshes an invalid auth token (etcd3 re-authenticates on "invalid auth token"); a watch stream cannot.
      onPermissionDenied: async () => {
        await this.client.kv.range({ key: this.lastWriteKey, keys_only: true });
      },
      onInterrupted: (error, nextRevision) =>
        this.logger?.warn({ reason: messageOf(error), nextRevision }, 'etcd watch interrupted; resuming on another stream'),
    });
    this.watches.add(watch);
    watch.start();
    return watch;
  }

  private closeWatch(watch: RangeWatch): void {
    watch.close();
    this.watches.delete(watch);
  }

  async changesSince(afterRevision: number, limit = 1000): Promise<StoreChange[]> {
    if (limit < 1) return [];
    const last = await this.revision();
    if (last <= afterRevision) return [];
    // etcd has no "history since" read, only a watch from a revision: follow one until the last write is reached.
    return new Promise<StoreChange[]>((resolve, reject) => {
      const collected: StoreChange[] = [];
      let done = false;
      let stalled: NodeJS.Timeout;
      const finish = (error?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(stalled);
        this.closeWatch(watch);
        if (error) reject(error);
        else resolve(collected);
      };
      // Bounded by progress rather than in total: a long catch-up is fine, a stream that gets nowhere is not.
      const armStallTimer = () => {
        clearTimeout(stalled);
        stalled = setTimeout(() => finish(unavailable(`the configuration store (etcd) did not answer the changes after revision ${afterRevision}`, 1)), this.retryForMs);
      };
      const watch = this.openWatch(
        afterRevision,
        (changes, revision) => {
          if (done) return;
          armStallTimer();
          // Whole revisions only: a caller resuming after the last change returned must not skip half of one.
          if (collected.length > 0 && collected.length + changes.length > limit) return finish();
          collected.push(...changes);
          if (revision >= last || collected.length >= limit) finish();
        },
        (error) => finish(error),
      );
      armStallTimer();
    });
  }

  async watch(afterRevision: number, listener: (change: StoreChange) => void): Promise<() => void> {
    const deliver = (changes: StoreChange[]) => {
      for (const change of changes) {
        try {
          listener(change);
        } catch (error) {
          this.logger?.error({ err: error, revision: change.revision }, 'a store watcher failed on a change');
        }
      }
    };
    // A watch from a compacted revision is refused at once (typed), not left to fail later where nobody is waiting.
    const compacted = await this.isCompacted(afterRevision + 1);
    return new Promise((resolve, reject) => {
      let settled = false;
      const unsubscribe = () => this.closeWatch(watch);
      const settle = (error?: Error) => {
        if (settled) return false;
        settled = true;
        if (error) reject(error);
        else resolve(unsubscribe);
        return true;
      };
      const watch = this.openWatch(
        afterRevision,
        (changes) => deliver(changes),
        (error) => {
          if (settle(error)) return;
          // Nobody awaits this watch any more, and its follower (e.g. token revocation) would silently go stale.
          this.brokenWatch = error;
          this.logger?.error({ err: error }, 'an etcd watch of the configuration store ended; its follower gets no more changes; reporting unhealthy');
        },
        () => settle(),
      );
      if (!compacted) return settle();
      // Compacted: the stream's own compaction answer decides, and that needs etcd; do not wait on it forever.
      setTimeout(() => {
        if (settle(unavailable(`the configuration store (etcd) did not answer a watch from revision ${afterRevision}`, 1))) unsubscribe();
      }, this.retryForMs).unref();
    });
  }

  /** Whether etcd no longer keeps `revision` (a revision not reached yet is not compacted). */
  private async isCompacted(revision: number): Promise<boolean> {
    return this.attempt('read the change history', async () => {
      try {
        await this.client.kv.range({ key: this.lastWriteKey, revision, keys_only: true });
        return false;
      } catch (error) {
        if (isCompactedError(error)) return true;
        if (/required revision is a future revision/.test(messageOf(error))) return false;
        throw error;
      }
    });
  }

  async healthy(): Promise<boolean> {
    if (this.closed || this.brokenWatch) return false;
    try {
      // Linearizable, so it needs a leader and a quorum: what every write needs too.
      await this.client.kv.range({ key: this.lastWriteKey, keys_only: true }, { deadline: Date.now() + HEALTH_TIMEOUT_MS });
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watch of this.watches) watch.close();
    this.watches.clear();
    this.client.close();
  }
}
