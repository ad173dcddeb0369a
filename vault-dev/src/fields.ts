// Reading request fields with the weak typing of Vault's framework.FieldData: numbers may come as
// strings, booleans as "true", lists as comma-separated strings. A value of the wrong shape is a 400.

import { parseDurationSeconds } from './duration.js';
import type { JsonObject } from './logical.js';
import { badRequest } from './vault-error.js';

/** A field the client sent: own properties only, never one inherited from Object.prototype. */
function own(data: JsonObject, name: string): unknown {
  return Object.hasOwn(data, name) ? data[name] : undefined;
}

/** Vault quotes the offending value; vault-dev does not, since it may be a secret. */
function conversionError(name: string) {
  return badRequest(`error converting input for field "${name}"`);
}

export function stringField(data: JsonObject, name: string): string | undefined {
  const value = own(data, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw conversionError(name);
}

export function boolField(data: JsonObject, name: string): boolean | undefined {
  const value = own(data, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(1|t|true|0|f|false)$/i.test(value)) return /^(1|t|true)$/i.test(value);
  if (typeof value === 'number' && (value === 0 || value === 1)) return value === 1;
  throw conversionError(name);
}

/** An integer; one too large to hold exactly (Go's int is 64 bits, a JS number 53) is refused, as Go refuses an overflow. */
export function intField(data: JsonObject, name: string): number | undefined {
  const value = own(data, name);
  if (value === undefined || value === null) return undefined;
  const number = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof number === 'number' && Number.isSafeInteger(number)) return number;
  throw conversionError(name);
}

export function durationField(data: JsonObject, name: string): number | undefined {
  const value = own(data, name);
  if (value === undefined || value === null || value === '') return undefined;
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined) throw conversionError(name);
  return seconds;
}

/** TypeCommaStringSlice / TypeCommaIntSlice: a JSON list, or "a,b,c". */
export function listField(data: JsonObject, name: string): string[] | undefined {
  const value = own(data, name);
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map((v) => String(v).trim()).filter((v) => v !== '');
  if (typeof value === 'string') return value.split(',').map((v) => v.trim()).filter((v) => v !== '');
  if (typeof value === 'number') return [String(value)];
  throw conversionError(name);
}

export function intListField(data: JsonObject, name: string): number[] {
  const items = listField(data, name) ?? [];
  return items.map((item) => {
    const number = /^-?\d+$/.test(item) ? Number(item) : NaN;
    if (!Number.isSafeInteger(number)) throw conversionError(name);
    return number;
  });
}

export function mapField(data: JsonObject, name: string): JsonObject | undefined {
  const value = own(data, name);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object' && !Array.isArray(value)) return value as JsonObject;
  throw conversionError(name);
}

/** TypeKVPairs: a map whose values become strings. */
export function stringMapField(data: JsonObject, name: string): Record<string, string> | undefined {
  const map = mapField(data, name);
  if (!map) return undefined;
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, v === null ? '' : String(v)]));
}
