// The query options every read and write shares (API conventions): validate, fields, keys, count, content.
// The contract has already checked each value's form; this turns them into one typed object and rejects combinations.
import type { Request } from 'express';
import { invalidInput } from '../errors.js';
import type { JsonSchema } from '../contract/openapi.js';
import { checkFields, parseFields, selectFields, type FieldSelection } from './fields.js';

export type ContentFilter = 'config' | 'nonconfig' | 'all';

export interface ReadOptions {
  validateOnly: boolean;
  fields?: FieldSelection;
  keys: boolean;
  count: boolean;
  content: ContentFilter;
}

const flag = (req: Request, name: string) => req.query[name] === 'true';

/** Reads the options; `answerSchema` is what `fields` is checked against. */
export function readOptions(req: Request, answerSchema?: JsonSchema): ReadOptions {
  const keys = flag(req, 'keys');
  const count = flag(req, 'count');
  const fieldsText = typeof req.query.fields === 'string' ? req.query.fields : undefined;
  if (keys && count) throw invalidInput("query parameters 'keys' and 'count' cannot be combined");
  if (fieldsText !== undefined && (keys || count)) {
    throw invalidInput(`query parameter 'fields' cannot be combined with '${keys ? 'keys' : 'count'}'`);
  }
  const fields = fieldsText === undefined ? undefined : parseFields(fieldsText);
  if (fields && answerSchema) checkFields(fields, answerSchema);
  const content = req.query.content;
  return {
    validateOnly: flag(req, 'validate'),
    keys,
    count,
    content: content === 'config' || content === 'nonconfig' ? content : 'all',
    ...(fields ? { fields } : {}),
  };
}

/** Shapes a list answer: `{count}`, the keys, or the entries with `fields` applied. */
export function shapeList<T>(entries: T[], options: ReadOptions, keyOf: (entry: T) => string): unknown {
  if (options.count) return { count: entries.length };
  if (options.keys) return entries.map(keyOf);
  return options.fields ? entries.map((e) => selectFields(e, options.fields!)) : entries;
}

/** Shapes a single-object answer with `fields`. */
export function shapeOne(entry: unknown, options: ReadOptions): unknown {
  return options.fields ? selectFields(entry, options.fields) : entry;
}

/** A state object filtered by `content`: only its config fields, only the others, or all; its key always stays. */
export function filterByContent<T extends object>(state: T, content: ContentFilter, key: string, configFields: readonly string[]): Partial<T> {
  if (content === 'all') return state;
  return Object.fromEntries(Object.entries(state).filter(([field]) => field === key || (content === 'config') === configFields.includes(field))) as Partial<T>;
}
