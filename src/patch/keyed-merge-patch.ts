// A plain PATCH: RFC 7396 merge patch, except that keyed lists (e.g. `credentials` keyed by `repository`)
// merge entry by entry on their key, so a patch adds or updates entries and never drops the others.

/** Which list fields are keyed, and by which field of their entries. */
export type KeyedLists = Record<string, string>;


const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const setOwn = (object: Record<string, unknown>, name: string, value: unknown) =>
  Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });

function mergeKeyedList(target: unknown, patch: unknown[], key: string, keyed: KeyedLists): unknown[] {
  const result = Array.isArray(target) ? [...target] : [];
  for (const entry of patch) {
    const id = isObject(entry) ? entry[key] : undefined;
    const at = id === undefined ? -1 : result.findIndex((existing) => isObject(existing) && existing[key] === id);
    if (at >= 0) result[at] = mergePatch(result[at], entry, keyed);
    else result.push(mergePatch(undefined, entry, keyed));
  }
  return result;
}

/** Returns `target` with `patch` applied; neither argument is modified. */
export function mergePatch(target: unknown, patch: unknown, keyed: KeyedLists = {}): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [name, value] of Object.entries(patch)) {
    // Own properties only, read and written as data: a key named `__proto__` is a field like any other,
    // never the result's prototype (whose fields would then look present without being there).
    const current = Object.hasOwn(result, name) ? result[name] : undefined;
    if (value === null) delete result[name];
    else if (Array.isArray(value) && Object.hasOwn(keyed, name)) setOwn(result, name, mergeKeyedList(current, value, keyed[name]!, keyed));
    else setOwn(result, name, mergePatch(current, value, keyed));
  }
  return result;
}

