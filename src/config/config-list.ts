// A keyed list of configuration objects in the ConfigStore (remote registries today; sites and more later):
// create, read, replace, patch and delete with whole-object validation, dry runs, ETag preconditions and CAS.
import { BerthError, alreadyExists, invalidInput, notFound } from '../errors.js';
import { describeAjvErrors, pointerToFieldPath, schemaValidator, type SchemaProblem } from '../contract/openapi.js';
import type { ConfigStore, ReadOptions, StoreEntry, WriteContext } from '../store/config-store.js';
import { checkPreconditions, type Preconditions } from '../store/preconditions.js';
import { mergePatch, type KeyedLists } from '../patch/keyed-merge-patch.js';
import { applyJsonPatch, jsonSizeWithin, type JsonPatchOperation } from '../patch/json-patch.js';
import { DEFAULT_LIMITS } from '../limits.js';

export interface ConfigListSpec<T> {
  /** What one entry is called in messages, e.g. `remote registry`. */
  noun: string;
  /** Store key prefix of the list, ending in `/`. */
  prefix: string;
  /** The field holding an entry's key. */
  keyField: keyof T & string;
  /** Name of the contract schema (components/schemas) every stored entry satisfies. */
  schema: string;
  /** Lists inside an entry that are keyed (unique keys, merged by key on PATCH). */
  keyedLists: KeyedLists;
  /** Checks the schema cannot express. */
  semanticProblems(entry: T): SchemaProblem[];
  /** Checks against other configuration (an entry naming another that must exist), once the others pass. */
  referenceProblems?(entry: T): Promise<SchemaProblem[]>;
}

export interface Versioned<T> {
  value: T;
  revision: number;
  updatedAt: string;
  /** Who made the last write, when it was recorded. */
  writeContext?: WriteContext;
}

export interface WriteOptions {
  preconditions?: Preconditions;
  /** `validate=true`: every check, no write. */
  validateOnly?: boolean;
  /** Who asks for the write, recorded with it. */
  context?: WriteContext;
}

export interface WriteOutcome {
  /** The revision written; undefined for a dry run. */
  revision?: number;
  created: boolean;
}

export type Patch = { kind: 'merge'; body: unknown } | { kind: 'json-patch'; operations: JsonPatchOperation[] };

/** One 400 naming every problem, when there are any. */
function throwProblems(problems: SchemaProblem[]): void {
  if (problems.length === 0) return;
  const message = problems.map((p) => `${pointerToFieldPath(p.pointer) || 'body'}: ${p.message}`).join('; ');
  throw invalidInput(message, { path: problems[0]!.pointer });
}

/** What a PATCH may make of an entry: no larger than a body could carry, and a JSON Patch of bounded length. */
export interface DocumentBounds {
  /** The largest entry a PATCH may produce, in bytes of JSON (BERTH_BODY_LIMIT: what a PUT could write). */
  documentBytes: number;
  /** Most operations in one JSON Patch (BERTH_MAX_PATCH_OPERATIONS). */
  patchOperations: number;
}

export const DEFAULT_DOCUMENT_BOUNDS: DocumentBounds = { documentBytes: 1024 * 1024, patchOperations: DEFAULT_LIMITS.patchOperations };

/** A document with `patch` applied, within the bounds: a patch never builds what a PUT could not have written. */
export function patchedWithin(value: unknown, patch: Patch, keyedLists: KeyedLists, bounds: DocumentBounds, noun: string): unknown {
  const limit = bounds.documentBytes;
  if (patch.kind === 'json-patch') return applyJsonPatch(value, patch.operations, { operations: bounds.patchOperations, documentBytes: limit });
  // A merge adds at most the body to the document, both bounded: the sum is checked, never a runaway.
  const merged = mergePatch(value, patch.body, keyedLists);
  if (jsonSizeWithin(merged, limit) > limit) {
    throw new BerthError('payload-too-large', `the patched ${noun} would be larger than ${limit} bytes (BERTH_BODY_LIMIT)`, { limit });
  }
  return merged;
}

/** A PATCH read-modify-write retries this often when another writer gets in between (no If-Match given). */
const PATCH_ATTEMPTS = 5;

export class ConfigList<T extends object> {
  private readonly validateSchema;
  private listCache: { revision: number; entries: Versioned<T>[] } | undefined;

  constructor(
    private readonly store: ConfigStore,
    private readonly spec: ConfigListSpec<T>,
    private readonly bounds: DocumentBounds = DEFAULT_DOCUMENT_BOUNDS,
  ) {
    this.validateSchema = schemaValidator(spec.schema);
  }

  private keyOf(entry: T): string {
    return String(entry[this.spec.keyField]);
  }

  private describe(key: string): string {
    return `${this.spec.noun} '${key}'`;
  }

  private storeKey(key: string): string {
    return this.spec.prefix + key;
  }

  private versioned(entry: StoreEntry): Versioned<T> {
    return { value: entry.value as T, revision: entry.modRevision, updatedAt: entry.updatedAt, ...(entry.writeContext ? { writeContext: entry.writeContext } : {}) };
  }

  /** Schema, key uniqueness in keyed lists, then the semantic checks; all problems at once. */
  check(candidate: unknown, pathKey?: string): T {
    const problems: SchemaProblem[] = [];
    if (!this.validateSchema(candidate)) problems.push(...describeAjvErrors(this.validateSchema.errors));
    else {
      const entry = candidate as T;
      for (const [list, keyField] of Object.entries(this.spec.keyedLists)) {
        const seen = new Set<unknown>();
        const items = (entry as Record<string, unknown>)[list];
        (Array.isArray(items) ? items : []).forEach((item: Record<string, unknown>, index) => {
          const key = item[keyField];
          if (seen.has(key)) problems.push({ pointer: `/${list}/${index}/${keyField}`, message: `duplicate key '${String(key)}'` });
          seen.add(key);
        });
      }
      problems.push(...this.spec.semanticProblems(entry));
      if (pathKey !== undefined && this.keyOf(entry) !== pathKey) {
        problems.push({ pointer: `/${this.spec.keyField}`, message: `'${this.keyOf(entry)}' does not match '${pathKey}' in the path; a key never changes` });
      }
    }
    throwProblems(problems);
    return candidate as T;
  }

  /** check(), then the references to other configuration. */
  private async checkAll(candidate: unknown, pathKey?: string): Promise<T> {
    const value = this.check(candidate, pathKey);
    if (this.spec.referenceProblems) throwProblems(await this.spec.referenceProblems(value));
    return value;
  }

  /**
   * Every entry, in key order. Reading and parsing a long list is most of a list GET's cost, so the parsed list is
   * kept for as long as the store's revision stays the same. Callers must not modify what they get.
   */
  async list(): Promise<Versioned<T>[]> {
    // The revision is read first: a write landing between the two reads moves the revision, so the next call re-reads.
    const revision = await this.store.revision();
    if (this.listCache?.revision === revision) return this.listCache.entries;
    const entries = (await this.store.list(this.spec.prefix)).map((e) => this.versioned(e));
    this.listCache = { revision, entries };
    return entries;
  }

  async get(key: string, options?: ReadOptions): Promise<Versioned<T>> {
    const entry = await this.store.get(this.storeKey(key), options);
    if (!entry) throw this.absent(key);
    return this.versioned(entry);
  }

  /** The entry as JSON text (ConfigStore.getJson) and its revision: for an answer that sends it as it is. */
  async getJson(key: string, options?: ReadOptions): Promise<{ json: string; revision: number }> {
    const entry = await this.store.getJson(this.storeKey(key), options);
    if (!entry) throw this.absent(key);
    return { json: entry.json, revision: entry.modRevision };
  }

  private absent(key: string): BerthError {
    return notFound(`${this.describe(key)} does not exist`);
  }

  async create(candidate: unknown, options: WriteOptions = {}): Promise<WriteOutcome> {
    const value = await this.checkAll(candidate);
    const key = this.keyOf(value);
    if (options.validateOnly) {
      if (await this.store.get(this.storeKey(key))) throw alreadyExists(`${this.describe(key)} already exists`);
      return { created: true };
    }
    try {
      const { revision } = await this.store.put(this.storeKey(key), value, { kind: 'absent' }, options.context);
      return { revision, created: true };
    } catch (e) {
      if (e instanceof BerthError && e.kind === 'already-exists') throw alreadyExists(`${this.describe(key)} already exists`);
      throw e;
    }
  }

  async replace(key: string, candidate: unknown, options: WriteOptions = {}): Promise<WriteOutcome> {
    const value = await this.checkAll(candidate, key);
    const current = await this.store.get(this.storeKey(key));
    checkPreconditions(this.describe(key), current?.modRevision, options.preconditions);
    if (options.validateOnly) return { created: !current };
    // With preconditions, write only over the revision they were checked against; without, last writer wins.
    const condition = options.preconditions ? (current ? { kind: 'mod-revision' as const, revision: current.modRevision } : { kind: 'absent' as const }) : undefined;
    return this.store.put(this.storeKey(key), value, condition, options.context);
  }

  async patch(key: string, patch: Patch, options: WriteOptions = {}): Promise<WriteOutcome> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.store.get(this.storeKey(key));
      if (!current) throw this.absent(key);
      checkPreconditions(this.describe(key), current?.modRevision, options.preconditions);
      const value = await this.checkAll(this.patched(current.value, patch), key);
      if (options.validateOnly) return { created: false };
      try {
        const { revision } = await this.store.put(this.storeKey(key), value, { kind: 'mod-revision', revision: current.modRevision }, options.context);
        return { revision, created: false };
      } catch (e) {
        // Someone wrote in between. With If-Match the client asked for exactly this revision: report it.
        const lostRace = e instanceof BerthError && e.kind === 'precondition-failed';
        if (!lostRace || options.preconditions?.ifMatch || attempt >= PATCH_ATTEMPTS) throw e;
      }
    }
  }

  private patched(value: unknown, patch: Patch): unknown {
    return patchedWithin(value, patch, this.spec.keyedLists, this.bounds, this.spec.noun);
  }

  async delete(key: string, options: WriteOptions = {}): Promise<void> {
    const current = await this.store.get(this.storeKey(key));
    if (!current) throw this.absent(key);
    checkPreconditions(this.describe(key), current?.modRevision, options.preconditions);
    if (options.validateOnly) return;
    await this.store.delete(this.storeKey(key), options.preconditions ? { kind: 'mod-revision', revision: current.modRevision } : undefined, options.context);
  }
}
