// RFC 6902 JSON Patch, applied with fast-json-patch to a copy of the stored object; its failures become typed errors.
import jsonpatch from 'fast-json-patch';
import { conflict, invalidInput } from '../errors.js';

export type JsonPatchOperation = jsonpatch.Operation;

/** Returns `document` with `operations` applied (the argument is not modified). A failed `test` is a 409. */
export function applyJsonPatch(document: unknown, operations: JsonPatchOperation[]): unknown {
  let problem: jsonpatch.JsonPatchError | undefined;
  try {
    problem = jsonpatch.validate(operations, document);
  } catch (e) {
    // fast-json-patch throws (a TypeError), rather than reports, a path through __proto__ or constructor/prototype.
    const banned = e instanceof TypeError && /__proto__|prototype/.test(e.message);
    throw invalidInput(banned ? 'JSON Patch: a path may not go through __proto__ or constructor/prototype' : 'JSON Patch: cannot be applied');
  }
  if (problem) {
    const index = (problem as { index?: number }).index ?? 0;
    if (problem.name === 'TEST_OPERATION_FAILED') throw conflict(`JSON Patch operation ${index}: test failed`, { operation: index });
    throw invalidInput(`JSON Patch operation ${index}: ${describe(problem.name)}`, { operation: index });
  }
  try {
    return jsonpatch.applyPatch(structuredClone(document), operations, false, true).newDocument;
  } catch (e) {
    throw invalidInput(`JSON Patch: ${(e as Error).message.split('\n')[0]}`);
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
