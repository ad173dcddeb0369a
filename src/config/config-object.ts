// One configuration object at a fixed key (the site retention), where ConfigList keeps a keyed list of them:
// read, replace, patch and delete with whole-object validation, dry runs, ETag preconditions and compare-and-set.
import { BerthError, invalidInput, notFound } from '../errors.js';
import { describeAjvErrors, pointerToFieldPath, schemaValidator, type SchemaProblem } from '../contract/openapi.js';
import type { ConfigStore, WriteContext } from '../store/config-store.js';
import { checkPreconditions } from '../store/preconditions.js';
import type { KeyedLists } from '../patch/keyed-merge-patch.js';
import { DEFAULT_DOCUMENT_BOUNDS, patchedWithin, type DocumentBounds, type Patch, type Versioned, type WriteOptions, type WriteOutcome } from './config-list.js';

export interface ConfigObjectSpec<T> {
  /** What the object is called in messages, e.g. `site retention`. */
  noun: string;
  /** Its store key. */
  key: string;
  /** Name of the contract schema (components/schemas) it satisfies. */
  schema: string;
  /** Lists inside it that are keyed (unique keys, merged by key on PATCH). */
  keyedLists: KeyedLists;
  /** Checks the schema cannot express. */
  semanticProblems?(value: T): SchemaProblem[];
}

/** A PATCH read-modify-write retries this often when another writer gets in between (no If-Match given). */
const PATCH_ATTEMPTS = 5;

export class ConfigObject<T extends object> {
  private readonly validateSchema;

  constructor(
    private readonly store: ConfigStore,
    readonly spec: ConfigObjectSpec<T>,
    private readonly bounds: DocumentBounds = DEFAULT_DOCUMENT_BOUNDS,
  ) {
    this.validateSchema = schemaValidator(spec.schema);
  }

  /** Schema, unique keys in keyed lists, then the semantic checks; all problems in one 400. */
  check(candidate: unknown): T {
    const problems: SchemaProblem[] = [];
    if (!this.validateSchema(candidate)) problems.push(...describeAjvErrors(this.validateSchema.errors));
    else {
      for (const [list, keyField] of Object.entries(this.spec.keyedLists)) {
        const items = (candidate as Record<string, unknown>)[list];
        const seen = new Set<unknown>();
        (Array.isArray(items) ? (items as Record<string, unknown>[]) : []).forEach((item, index) => {
          if (seen.has(item[keyField])) problems.push({ pointer: `/${list}/${index}/${keyField}`, message: `duplicate key '${String(item[keyField])}'` });
          seen.add(item[keyField]);
        });
      }
      problems.push(...(this.spec.semanticProblems?.(candidate as T) ?? []));
    }
    if (problems.length > 0) {
      throw invalidInput(problems.map((p) => `${pointerToFieldPath(p.pointer) || 'body'}: ${p.message}`).join('; '), { path: problems[0]!.pointer });
    }
    return candidate as T;
  }

  /** The object, or undefined when it was never set (or deleted). */
  async find(): Promise<Versioned<T> | undefined> {
    const entry = await this.store.get(this.spec.key);
    return entry && { value: entry.value as T, revision: entry.modRevision, updatedAt: entry.updatedAt };
  }

  async get(): Promise<Versioned<T>> {
    const found = await this.find();
    if (!found) throw notFound(`the ${this.spec.noun} is not configured`);
    return found;
  }

  async replace(candidate: unknown, options: WriteOptions = {}): Promise<WriteOutcome> {
    const value = this.check(candidate);
    const current = await this.store.get(this.spec.key);
    checkPreconditions(`the ${this.spec.noun}`, current?.modRevision, options.preconditions);
    if (options.validateOnly) return { created: !current };
    const condition = options.preconditions ? (current ? { kind: 'mod-revision' as const, revision: current.modRevision } : { kind: 'absent' as const }) : undefined;
    return this.store.put(this.spec.key, value, condition, options.context);
  }

  async patch(patch: Patch, options: WriteOptions = {}): Promise<WriteOutcome> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.store.get(this.spec.key);
      if (!current) throw notFound(`the ${this.spec.noun} is not configured`);
      checkPreconditions(`the ${this.spec.noun}`, current.modRevision, options.preconditions);
      const value = this.check(patchedWithin(current.value, patch, this.spec.keyedLists, this.bounds, this.spec.noun));
      if (options.validateOnly) return { created: false };
      try {
        const { revision } = await this.store.put(this.spec.key, value, { kind: 'mod-revision', revision: current.modRevision }, options.context);
        return { revision, created: false };
      } catch (e) {
        const lostRace = e instanceof BerthError && e.kind === 'precondition-failed';
        if (!lostRace || options.preconditions?.ifMatch || attempt >= PATCH_ATTEMPTS) throw e;
      }
    }
  }

  async delete(options: WriteOptions & { context?: WriteContext } = {}): Promise<void> {
    const current = await this.store.get(this.spec.key);
    if (!current) throw notFound(`the ${this.spec.noun} is not configured`);
    checkPreconditions(`the ${this.spec.noun}`, current.modRevision, options.preconditions);
    if (options.validateOnly) return;
    await this.store.delete(this.spec.key, options.preconditions ? { kind: 'mod-revision', revision: current.modRevision } : undefined, options.context);
  }
}
