// The audit trail in etcd: each audited write puts its record in the write's own transaction under a key that orders
// newest first, numbered by the last-write marker's version; the records are read back a page at a time and trimmed
// by count and by age.
import { CompareResult, CompareTarget, SortOrder, SortTarget, type Etcd3, type ICompare, type IRequestOp, type ITxnRequest, type ITxnResponse } from 'etcd3';
import { notFound, unavailable } from '../errors.js';
import type { AuditRecord, AuditTrim, WriteCondition, WriteContext } from './config-store.js';
import { lastWriteOf, prefixEnd, unwrapOrUndefined, utf8, type LastWrite } from './etcd-records.js';
import { checkWriteCondition } from './write-condition.js';

/** An audit record as stored: its id is in its key, its revision is the key's create revision. */
export type StoredAuditRecord = Omit<AuditRecord, 'id' | 'revision'>;
/**
 * Audit keys hold `AUDIT_ID_CEILING - id` in 16 digits (then `-` and the write time in ms, for trimming by age from the
 * keys alone): ascending key order is newest first, the order etcd reads a range in without sorting all of it.
 */
const AUDIT_ID_CEILING = 9_999_999_999_999_999n;
const AUDIT_KEY = /(\d{16})-(\d{13,})$/;
const LIST_PAGE = 500;
/** An audited write retries this often when another write moved the key or the sequence between its read and its commit. */
const AUDITED_WRITE_ATTEMPTS = 20;

export class EtcdAuditLog {
  constructor(
    private readonly client: Etcd3,
    /** Where the records live: the store's prefix and `audit/`. */
    private readonly prefix: Buffer,
    /** The store's retrying call (etcd.ts). */
    private readonly attempt: <T>(what: string, call: () => Promise<T>) => Promise<T>,
  ) {}

  /** The key of record `id`; with its write time, as stored (without, a bound to read a range from). */
  key(id: number, atMs?: number): Buffer {
    const inverted = (AUDIT_ID_CEILING - BigInt(id)).toString().padStart(16, '0');
    return Buffer.concat([this.prefix, utf8(atMs === undefined ? inverted : `${inverted}-${String(atMs).padStart(13, '0')}`)]);
  }

  async records(options: { before?: number; limit: number }): Promise<AuditRecord[]> {
    if (options.limit < 1 || (options.before !== undefined && options.before <= 1)) return [];
    const from = options.before === undefined ? this.prefix : this.key(options.before - 1);
    const { kvs } = await this.attempt('read', () => this.client.kv.range({ key: from, range_end: prefixEnd(this.prefix), limit: options.limit }));
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

  async trim(trim: AuditTrim): Promise<number> {
    const end = prefixEnd(this.prefix);
    /** The oldest audit keys, oldest first (etcd sorts the keys only; no value is read). */
    const oldest = async (count: number, below: Buffer = end) =>
      (
        await this.attempt('read', () =>
          this.client.kv.range({ key: this.prefix, range_end: below, keys_only: true, limit: count, sort_order: SortOrder.Descend, sort_target: SortTarget.Key }),
        )
      ).kvs.map((kv) => kv.key);
    const dropFrom = async (first: Buffer) => {
      const { deleted } = await this.attempt('write', () => this.client.kv.deleteRange({ key: first, range_end: end }));
      return Number(deleted);
    };
    let dropped = 0;
    if (trim.keep !== undefined) {
      const { count } = await this.attempt('read', () => this.client.kv.range({ key: this.prefix, range_end: end, count_only: true }));
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

  /**
   * A write with a context: the key's state and the write sequence are read first, so the audit record can say what
   * the key was and take the next number; the transaction then holds only if neither moved meanwhile, else it is
   * tried again. A failure (the caller's condition, a delete of nothing) is decided on what was read, as etcd would.
   * Answers like `commit`: on failure, the data key and the marker read back (for recognising an earlier try of ours).
   */
  async commitAudited(
    at: { key: string; dataKey: Buffer; lastWriteKey: Buffer },
    type: 'put' | 'delete',
    op: IRequestOp,
    condition: WriteCondition | undefined,
    marker: LastWrite,
    context: WriteContext,
  ): Promise<ITxnResponse> {
    const { key, dataKey, lastWriteKey } = at;
    for (let attempt = 1; ; attempt++) {
      const state = await this.attempt('read', () =>
        this.client.kv.txn({ compare: [], success: [{ request_range: { key: dataKey } }, { request_range: { key: lastWriteKey } }], failure: [] }),
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
        { key: lastWriteKey, target: CompareTarget.Version, result: CompareResult.Equal, version: sequence },
      ];
      const request: ITxnRequest = {
        compare,
        success: [
          { request_put: { key: lastWriteKey, value: utf8(JSON.stringify(marker)) } },
          op,
          { request_put: { key: this.key(sequence + 1, Date.parse(marker.at)), value: utf8(JSON.stringify(record)) } },
        ],
        failure: [{ request_range: { key: dataKey } }, { request_range: { key: lastWriteKey } }],
      };
      const response = await this.attempt('write', () => this.client.kv.txn(request));
      if (response.succeeded) return response;
      // A try whose answer was lost (sent again by `attempt`) may have done the write: then it is ours to report.
      const after = response.responses[0]?.response_range.kvs[0];
      const afterMarker = lastWriteOf(response.responses[1]?.response_range.kvs[0]);
      if (afterMarker?.write === marker.write || (after && unwrapOrUndefined(after)?.write === marker.write)) return response;
      if (attempt >= AUDITED_WRITE_ATTEMPTS) {
        throw unavailable(`the configuration store (etcd) is too busy: the write of ${key} met other writes ${attempt} times`, 1);
      }
    }
  }
}
