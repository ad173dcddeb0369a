// The etcd ConfigStore engine, for several Berth processes serving one configuration: etcd's own revisions are the
// store's, every write is one transaction (compare-and-set plus a last-write marker), and the change feed is etcd's watch.
// An audited write (one with a context) puts its audit record in that same transaction, numbered by the marker's
// version: every Berth write rewrites the marker, so its version counts the writes, and the records sort by it.
import { randomBytes } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import {
  CompareResult,
  CompareTarget,
  Etcd3,
  isRecoverableError,
  type ICompare,
  type IKeyValue,
  type IOptions,
  type IRequestOp,
  type ITxnRequest,
  type ITxnResponse,
  SortOrder,
  SortTarget,
} from 'etcd3';
import { BerthError, isBerthError, notFound, unavailable } from '../errors.js';
import { checkWriteCondition } from './write-condition.js';
import type { AuditRecord, AuditTrim, ConfigStore, StoreChange, StoreEntry, StoredValue, WriteCondition, WriteContext, WriteResult } from './config-store.js';
import { RangeWatch, type RevisionEvents } from './etcd-watch.js';
import { passThrough, skipUnreachable } from './etcd-endpoint-policy.js';
import { RevisionCompactedError } from './revision-compacted.js';

export interface EtcdStoreSettings {
  /** `http(s)://host:port` of the members to use; any of them serves any request. */
  endpoints: string[];
  /** PEM texts for https endpoints: the CA to trust (system roots when absent) and a client certificate. */
  tls?: { caCertPem?: string; certPem?: string; keyPem?: string };
  auth?: { username: string; password: string };
  /** Every key Berth writes starts with this (ends in `/`), so several Berths or other tools can share a cluster. */
  prefix: string;
}

export interface EtcdStoreOptions {
  logger?: Logger;
  /** How long a request keeps retrying transient failures (a killed member, a leader election) before a 503. */
  retryForMs?: number;
}

/** What Berth stores under a data key: the value wrapped with its write time and the id of the write. */
interface Wrapped {
  value: StoredValue;
  at: string;
  /** Random per write, to recognise our own write when a retried transaction finds it already applied. */
  write: string;
  /** Who wrote, when the write said. */
  context?: WriteContext;
}

/** The last-write marker, rewritten by every transaction: its mod revision is the store's revision. */
interface LastWrite {
  at: string;
  write: string;
  /** Who wrote: for a delete, whose event carries no value, the change feed finds it here. */
  context?: WriteContext;
}

/** An audit record as stored: its id is in its key, its revision is the key's create revision. */
type StoredAuditRecord = Omit<AuditRecord, 'id' | 'revision'>;

const DATA = 'kv/';
const LAST_WRITE = 'last-write';
const AUDIT = 'audit/';
/**
 * Audit keys hold `AUDIT_ID_CEILING - id` in 16 digits (then `-` and the write time in ms, for trimming by age from the
 * keys alone): ascending key order is newest first, the order etcd reads a range in without sorting all of it.
 */
const AUDIT_ID_CEILING = 9_999_999_999_999_999n;
const AUDIT_KEY = /(\d{16})-(\d{13,})$/;
/** An audited write retries this often when another write moved the key or the sequence between its read and its commit. */
const AUDITED_WRITE_ATTEMPTS = 20;
/**
 * A bound on each call; a retry then goes to another member. A write sent to a follower just as the leader dies waits
 * for etcd's own request timeout (7 s), so this is what a leader kill costs a request; commits take milliseconds.
 */
const CALL_TIMEOUT_MS = 2_000;
const HEALTH_TIMEOUT_MS = 1_000;
const DEFAULT_RETRY_FOR_MS = 10_000;
const LIST_PAGE = 500;

const utf8 = (text: string) => Buffer.from(text, 'utf8');

/** The end of the range of every key starting with `prefix`: the prefix with its last byte below 0xff raised by one. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

const isTransient = (e: unknown) => e instanceof Error && !isBerthError(e) && isRecoverableError(e);
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
const isCompactedError = (e: unknown) => /required revision has been compacted/.test(messageOf(e));

function compareFor(key: Buffer, condition: WriteCondition | undefined): ICompare[] {
  switch (condition?.kind) {
    case undefined:
      return [];
    case 'absent':
      return [{ key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }];
    case 'present':
      return [{ key, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 }];
    case 'mod-revision':
      return [{ key, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: condition.revision }];
  }
}

function clientOptions(settings: EtcdStoreSettings): IOptions {
  const { tls, auth } = settings;
  return {
    hosts: settings.endpoints,
    ...(tls && (tls.caCertPem || tls.certPem)
      ? {
          credentials: {
            rootCertificate: utf8(tls.caCertPem ?? rootCertificates.join('\n')),
            ...(tls.certPem && tls.keyPem ? { certChain: utf8(tls.certPem), privateKey: utf8(tls.keyPem) } : {}),
          },
        }
      : {}),
    ...(auth ? { auth: { username: auth.username, password: auth.password } } : {}),
    grpcOptions: {
      // A list page or a watch catch-up may exceed gRPC's 4 MiB default; etcd bounds each value anyway.
      'grpc.max_receive_message_length': -1,
      // Notice a silently dead connection (no RST) within ~15 s; etcd accepts pings every 5 s or slower.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    },
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
    faultHandling: { host: skipUnreachable, global: passThrough() },
  };
}

export class EtcdConfigStore implements ConfigStore {
  private readonly client: Etcd3;
  private readonly dataPrefix: string;
  private readonly rootKey: Buffer;
  private readonly lastWriteKey: Buffer;
  private readonly auditPrefix: Buffer;
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
    this.auditPrefix = utf8(settings.prefix + AUDIT);
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

  private unwrap(kv: IKeyValue): Wrapped {
    let wrapped: Partial<Wrapped> | undefined;
    try {
      wrapped = JSON.parse(kv.value.toString('utf8')) as Partial<Wrapped>;
    } catch {
      wrapped = undefined;
    }
    if (typeof wrapped !== 'object' || wrapped === null || !('value' in wrapped) || typeof wrapped.at !== 'string') {
      throw new BerthError('internal', `etcd key ${kv.key.toString('utf8')} does not hold a value written by Berth`);
    }
    return { value: wrapped.value, at: wrapped.at, write: String(wrapped.write ?? ''), ...(wrapped.context ? { context: wrapped.context } : {}) };
  }

  private toEntry(kv: IKeyValue): StoreEntry {
    const { value, at, context } = this.unwrap(kv);
    return {
      key: kv.key.toString('utf8').slice(this.dataPrefix.length),
      value,
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      updatedAt: at,
      ...(context ? { writeContext: context } : {}),
    };
  }

  private static lastWriteOf(kv: IKeyValue | undefined): LastWrite | undefined {
    if (!kv) return undefined;
    try {
      return JSON.parse(kv.value.toString('utf8')) as LastWrite;
    } catch {
      return undefined;
    }
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

  private auditKey(id: number, atMs?: number): Buffer {
    const inverted = (AUDIT_ID_CEILING - BigInt(id)).toString().padStart(16, '0');
    return Buffer.concat([this.auditPrefix, utf8(atMs === undefined ? inverted : `${inverted}-${String(atMs).padStart(13, '0')}`)]);
  }

  /**
   * A write with a context: the key's state and the write sequence are read first, so the audit record can say what
   * the key was and take the next number; the transaction then holds only if neither moved meanwhile, else it is
   * tried again. A failure (the caller's condition, a delete of nothing) is decided on what was read, as etcd would.
   * Answers like `commit`: on failure, the data key and the marker read back (for recognising an earlier try of ours).
   */
  private async commitAudited(key: string, type: 'put' | 'delete', op: IRequestOp, condition: WriteCondition | undefined, marker: LastWrite, context: WriteContext): Promise<ITxnResponse> {
    const dataKey = this.dataKey(key);
    for (let attempt = 1; ; attempt++) {
      const state = await this.attempt('read', () =>
        this.client.kv.txn({ compare: [], success: [{ request_range: { key: dataKey } }, { request_range: { key: this.lastWriteKey } }], failure: [] }),
      );
      const current = state.responses[0]?.response_range.kvs[0];
      const sequence = Number(state.responses[1]?.response_range.kvs[0]?.version ?? 0);
      checkWriteCondition(key, current === undefined ? undefined : Number(current.mod_revision), condition);
      if (type === 'delete' && !current) throw notFound(`${key} does not exist`);
      const record: StoredAuditRecord = {
        key,
        type,
        at: marker.at,
        ...(current ? { previousRevision: Number(current.mod_revision) } : {}),
        context,
      };
      const compare: ICompare[] = [
        current
          ? { key: dataKey, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: current.mod_revision }
          : { key: dataKey, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 },
        { key: this.lastWriteKey, target: CompareTarget.Version, result: CompareResult.Equal, version: sequence },
      ];
      const request: ITxnRequest = {
        compare,
        success: [
          { request_put: { key: this.lastWriteKey, value: utf8(JSON.stringify(marker)) } },
          op,
          { request_put: { key: this.auditKey(sequence + 1, Date.parse(marker.at)), value: utf8(JSON.stringify(record)) } },
        ],
        failure: [{ request_range: { key: dataKey } }, { request_range: { key: this.lastWriteKey } }],
      };
      const response = await this.attempt('write', () => this.client.kv.txn(request));
      if (response.succeeded) return response;
      // A try whose answer was lost (sent again by `attempt`) may have done the write: then it is ours to report.
      const after = response.responses[0]?.response_range.kvs[0];
      const afterMarker = EtcdConfigStore.lastWriteOf(response.responses[1]?.response_range.kvs[0]);
      if (afterMarker?.write === marker.write || (after && this.unwrapOrUndefined(after)?.write === marker.write)) return response;
      if (attempt >= AUDITED_WRITE_ATTEMPTS) {
        throw unavailable(`the configuration store (etcd) is too busy: the write of ${key} met other writes ${attempt} times`, 1);
      }
    }
  }

  async auditRecords(options: { before?: number; limit: number }): Promise<AuditRecord[]> {
    if (options.limit < 1 || (options.before !== undefined && options.before <= 1)) return [];
    const from = options.before === undefined ? this.auditPrefix : this.auditKey(options.before - 1);
    const { kvs } = await this.attempt('read', () => this.client.kv.range({ key: from, range_end: prefixEnd(this.auditPrefix), limit: options.limit }));
    return kvs.flatMap((kv): AuditRecord[] => {
      const match = AUDIT_KEY.exec(kv.key.toString('utf8'));
      let stored: StoredAuditRecord;
      try {
        stored = JSON.parse(kv.value.toString('utf8')) as StoredAuditRecord;
      } catch {
        return [];
      }
      if (!match) return [];
      return [{ id: Number(AUDIT_ID_CEILING - BigInt(match[1]!)), revision: Number(kv.create_revision), ...stored }];
    });
  }

  async trimAuditRecords(trim: AuditTrim): Promise<number> {
    const end = prefixEnd(this.auditPrefix);
    /** The oldest audit keys, oldest first (etcd sorts the keys only; no value is read). */
    const oldest = async (count: number, below: Buffer = end) =>
      (
        await this.attempt('read', () =>
          this.client.kv.range({ key: this.auditPrefix, range_end: below, keys_only: true, limit: count, sort_order: SortOrder.Descend, sort_target: SortTarget.Key }),
        )
      ).kvs.map((kv) => kv.key);
    const dropFrom = async (first: Buffer) => {
      const { deleted } = await this.attempt('write', () => this.client.kv.deleteRange({ key: first, range_end: end }));
      return Number(deleted);
    };
    let dropped = 0;
    if (trim.keep !== undefined) {
      const { count } = await this.attempt('read', () => this.client.kv.range({ key: this.auditPrefix, range_end: end, count_only: true }));
      const excess = Number(count) - trim.keep;
      if (excess > 0) dropped += await dropFrom((await oldest(excess)).at(-1)!);
    }
    if (trim.olderThan !== undefined) {
      const cutoff = trim.olderThan.getTime();
      // From the oldest on, while records are older than the cutoff: they are the keys from the newest of them to the end.
      let newestOld: Buffer | undefined;
      for (let below = end; ; ) {
        const page = await oldest(LIST_PAGE, below);
        const old = page.findIndex((key) => Number(AUDIT_KEY.exec(key.toString('utf8'))?.[2] ?? Infinity) >= cutoff);
        const olds = old === -1 ? page : page.slice(0, old);
        if (olds.length > 0) newestOld = olds.at(-1);
        if (old !== -1 || page.length < LIST_PAGE) break;
        below = page.at(-1)!;
      }
      if (newestOld) dropped += await dropFrom(newestOld);
    }
    return dropped;
  }

  async get(key: string): Promise<StoreEntry | undefined> {
    const { kvs } = await this.attempt('read', () => this.client.kv.range({ key: this.dataKey(key) }));
    return kvs[0] && this.toEntry(kvs[0]);
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
      ? await this.commitAudited(key, 'put', op, condition, marker, context)
      : await this.commit(key, op, compareFor(dataKey, condition), marker);
    if (response.succeeded) {
      const previous = response.responses[1]?.response_put.prev_kv;
      const existed = previous !== null && previous !== undefined && previous.key.length > 0;
      // Applied twice (a retry after a lost answer) finds itself as the previous value: the first decided `created`.
      const mine = existed && this.unwrapOrUndefined(previous)?.write === write;
      return { revision: Number(response.header.revision), created: !existed || (mine && previous.create_revision === previous.mod_revision) };
    }
    const current = response.responses[0]?.response_range.kvs[0];
    if (current && this.unwrapOrUndefined(current)?.write === write) {
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
      ? await this.commitAudited(key, 'delete', op, condition, lastWrite, context)
      : await this.commit(key, op, compare, lastWrite);
    if (response.succeeded) return { revision: Number(response.header.revision), created: false };
    const current = response.responses[0]?.response_range.kvs[0];
    const marker = response.responses[1]?.response_range.kvs[0];
    // Gone, and the last write was this one: an earlier try whose answer was lost did the delete.
    if (!current && EtcdConfigStore.lastWriteOf(marker)?.write === write) return { revision: Number(marker!.mod_revision), created: false };
    checkWriteCondition(key, current === undefined ? undefined : Number(current.mod_revision), condition);
    if (!current) throw notFound(`${key} does not exist`);
    throw new BerthError('internal', `etcd refused the delete of ${key} although its condition holds`);
  }

  private unwrapOrUndefined(kv: IKeyValue): Wrapped | undefined {
    try {
      return this.unwrap(kv);
    } catch {
      return undefined;
    }
  }

  /** The revision of the last write through any Berth on this prefix (0 before the first); a linearizable read. */
  async revision(): Promise<number> {
    const { kvs } = await this.attempt('read', () => this.client.kv.range({ key: this.lastWriteKey, keys_only: true }));
    return Number(kvs[0]?.mod_revision ?? 0);
  }

  /** The store changes among one revision's events: the marker and keys outside the data prefix left out. */
  private changesOf(group: RevisionEvents): StoreChange[] {
    const marker = group.events.find((e) => e.kv.key.equals(this.lastWriteKey));
    const lastWrite = EtcdConfigStore.lastWriteOf(marker?.kv);
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
      const wrapped = this.unwrapOrUndefined(event.kv);
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
