// RFC 6902 JSON Patch, applied with fast-json-patch one operation at a time to a copy of the stored object, its
// failures typed errors. Bounded as it goes: a few operations that each copy the document would double it every
// time (2^40 after 40), so the bytes the operations add are counted before each one runs, and the patch stops at
// the bound before anything large is built. Validation happens during application, never as a dry run of the whole.
import jsonpatch from 'fast-json-patch';
import { BerthError, conflict, invalidInput } from '../errors.js';

export type JsonPatchOperation = jsonpatch.Operation;

export interface JsonPatchBounds {
  /** Most operations in one patch (BERTH_MAX_PATCH_OPERATIONS). */
  operations: number;
  /** Most bytes of JSON the operations may add in all, and the largest result (BERTH_BODY_LIMIT). */
  documentBytes: number;
}

const tooLarge = (message: string, info: Record<string, unknown>) => new BerthError('payload-too-large', message, info);

/**
 * The size of `value` as JSON (near enough: escapes are not counted), or a number above `budget` as soon as it
 * passes it, so measuring a huge value costs no more than the budget.
 */
export function jsonSizeWithin(value: unknown, budget: number): number {
  let size = 0;
  const visit = (node: unknown): void => {
    if (size > budget) return;
    if (typeof node === 'string') size += node.length + 2;
    else if (typeof node === 'number' || typeof node === 'boolean') size += String(node).length;
    else if (node === null || node === undefined) size += 4;
    else if (Array.isArray(node)) {
      size += 2 + Math.max(0, node.length - 1);
      for (const item of node) {
        visit(item);
        if (size > budget) return;
      }
    } else if (typeof node === 'object') {
      const entries = Object.entries(node as Record<string, unknown>);
      size += 2 + Math.max(0, entries.length - 1);
      for (const [key, item] of entries) {
        size += key.length + 3;
        visit(item);
        if (size > budget) return;
      }
    }
  };
  visit(value);
  return size;
}

const valueAt = (document: unknown, pointer: string | undefined): unknown => {
  if (pointer === undefined) return undefined;
  try {
    return jsonpatch.getValueByPointer(document, pointer);
  } catch {
    return undefined;
  }
};

/** What running `operation` copies or inserts into the document: the value given, or the one copied (or replaced by a move). */
function addedValue(document: unknown, operation: JsonPatchOperation): unknown {
  switch (operation.op) {
    case 'add':
    case 'replace':
      return operation.value;
    case 'copy':
      return valueAt(document, operation.from);
    case 'move':
      // fast-json-patch clones the value a move overwrites.
      return valueAt(document, operation.path);
    default:
      return undefined;
  }
}

/** Returns `document` with `operations` applied (the argument is not modified). A failed `test` is a 409. */
export function applyJsonPatch(document: unknown, operations: JsonPatchOperation[], bounds: JsonPatchBounds): unknown {
  if (operations.length > bounds.operations) {
    throw tooLarge(`JSON Patch: ${operations.length} operations, more than the ${bounds.operations} allowed (BERTH_MAX_PATCH_OPERATIONS)`, {
      operations: operations.length,
      limit: bounds.operations,
    });
  }
  let result = structuredClone(document);
  let added = 0;
  operations.forEach((operation, index) => {
    added += jsonSizeWithin(addedValue(result, operation), bounds.documentBytes - added);
    if (added > bounds.documentBytes) {
      throw tooLarge(`JSON Patch operation ${index}: the operations would add more than ${bounds.documentBytes} bytes (BERTH_BODY_LIMIT)`, {
        operation: index,
        limit: bounds.documentBytes,
      });
    }
    result = applyOne(result, operation, index);
  });
  if (jsonSizeWithin(result, bounds.documentBytes) > bounds.documentBytes) {
    throw tooLarge(`JSON Patch: the result would be larger than ${bounds.documentBytes} bytes (BERTH_BODY_LIMIT)`, { limit: bounds.documentBytes });
  }
  return result;
}

function applyOne(document: unknown, operation: JsonPatchOperation, index: number): unknown {
  try {
    return jsonpatch.applyOperation(document, operation, true, true, true, index).newDocument;
  } catch (e) {
    // fast-json-patch throws (a TypeError), rather than reports, a path through __proto__ or constructor/prototype.
    if (e instanceof TypeError && /__proto__|prototype/.test(e.message)) {
      throw invalidInput(`JSON Patch operation ${index}: a path may not go through __proto__ or constructor/prototype`, { operation: index });
    }
    if (e instanceof jsonpatch.JsonPatchError) {
      if (e.name === 'TEST_OPERATION_FAILED') throw conflict(`JSON Patch operation ${index}: test failed`, { operation: index });
      throw invalidInput(`JSON Patch operation ${index}: ${describe(e.name)}`, { operation: index });
    }
    throw invalidInput(`JSON Patch operation ${index}: cannot be applied`, { operation: index });
  }
}

function describe(name: string): string {
  switch (name) {
    case 'OPERATION_PATH_UNRESOLVABLE':
    case 'OPERATION_FROM_UNRESOLVABLE':
      return 'path does not exist in the object';
    case 'OPERATION_PATH_ILLEGAL_ARRAY_INDEX':
    case 'OPERATION_VALUE_OUT_OF_BOUNDS':
      return 'array index out of range or not a number';
    case 'OPERATION_VALUE_REQUIRED':
      return "'value' is required";
    default:
      return name.toLowerCase().replace(/_/g, ' ');
  }
}
