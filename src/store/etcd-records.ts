// How the etcd store lays out what it writes: a value wrapped with its write time and write id, the last-write marker
// every transaction rewrites, the compare of a write's condition, and the key range of a prefix.
import { CompareResult, CompareTarget, type ICompare, type IKeyValue } from 'etcd3';
import { BerthError } from '../errors.js';
import type { StoredValue, WriteCondition, WriteContext } from './config-store.js';

export const utf8 = (text: string) => Buffer.from(text, 'utf8');

/** What Berth stores under a data key: the value wrapped with its write time and the id of the write. */
export interface Wrapped {
  value: StoredValue;
  at: string;
  /** Random per write, to recognise our own write when a retried transaction finds it already applied. */
  write: string;
  /** Who wrote, when the write said. */
  context?: WriteContext;
}

/** The last-write marker, rewritten by every transaction: its mod revision is the store's revision. */
export interface LastWrite {
  at: string;
  write: string;
  /** Who wrote: for a delete, whose event carries no value, the change feed finds it here. */
  context?: WriteContext;
}


export function unwrap(kv: IKeyValue): Wrapped {
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

export function unwrapOrUndefined(kv: IKeyValue): Wrapped | undefined {
  try {
    return unwrap(kv);
  } catch {
    return undefined;
  }
}

export function lastWriteOf(kv: IKeyValue | undefined): LastWrite | undefined {
  if (!kv) return undefined;
  try {
    return JSON.parse(kv.value.toString('utf8')) as LastWrite;
  } catch {
    return undefined;
  }
}

export function compareFor(key: Buffer, condition: WriteCondition | undefined): ICompare[] {
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
