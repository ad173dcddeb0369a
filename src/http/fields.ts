// The RFC 8040 `fields` query parameter (section 4.8.3): `;` separates, `/` descends, `(...)` groups under a node.
// A `,` separates too. Parsed into a selection tree, checked against the answer's schema, then applied to answers.
import { invalidInput } from '../errors.js';
import { resolveRef, type JsonSchema } from '../contract/openapi.js';

/** Selected child names; `true` selects the whole subtree. */
export type FieldSelection = Map<string, FieldSelection | true>;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_.-]*/;

function merge(into: FieldSelection, name: string, sub: FieldSelection | true): void {
  const existing = into.get(name);
  if (existing === true || sub === true) into.set(name, true);
  else if (existing) for (const [k, v] of sub) merge(existing, k, v);
  else into.set(name, sub);
}

/** Parses a fields expression; throws `invalid-input` naming the position of a syntax error. */
export function parseFields(text: string): FieldSelection {
  let pos = 0;
  const fail = (what: string): never => {
    throw invalidInput(`query parameter 'fields': ${what} at position ${pos + 1} of '${text}'`);
  };
  const identifier = (): string => {
    const match = IDENTIFIER.exec(text.slice(pos));
    if (!match) fail('expected a field name');
    pos += match![0].length;
    return match![0];
  };
  // expr := path ( '(' expr ')' )? ( [;,] expr )?     path := identifier ( '/' identifier )*
  const expression = (depth: number): FieldSelection => {
    if (depth > 16) fail('nested too deeply');
    const selection: FieldSelection = new Map();
    for (;;) {
      const path = [identifier()];
      while (text[pos] === '/') {
        pos++;
        path.push(identifier());
      }
      let leaf: FieldSelection | true = true;
      if (text[pos] === '(') {
        pos++;
        leaf = expression(depth + 1);
        if (text[pos] !== ')') fail("expected ')'");
        pos++;
      }
      const node = path.reduceRight<FieldSelection | true>((sub, name) => new Map([[name, sub]]), leaf) as FieldSelection;
      for (const [k, v] of node) merge(selection, k, v);
      if (text[pos] === ';' || text[pos] === ',') {
        pos++;
        continue;
      }
      return selection;
    }
  };
  const selection = expression(0);
  if (pos !== text.length) fail(`unexpected '${text[pos]}'`);
  return selection;
}

/** The object schema that describes one entry: follows `$ref`, array `items`, and `anyOf`/`oneOf`/`allOf` branches. */
function entrySchemas(schema: JsonSchema): JsonSchema[] {
  const resolved = resolveRef(schema);
  const branches = [resolved.anyOf, resolved.oneOf, resolved.allOf].flatMap((b) => (Array.isArray(b) ? (b as JsonSchema[]) : []));
  if (branches.length > 0) return branches.flatMap(entrySchemas);
  if (resolved.type === 'array' && resolved.items) return entrySchemas(resolved.items as JsonSchema);
  return [resolved];
}

/** Throws `invalid-input` for a selected field the answer's schema does not have. */
export function checkFields(selection: FieldSelection, schema: JsonSchema, parent = ''): void {
  const objects = entrySchemas(schema).filter((s) => s.properties);
  for (const [name, sub] of selection) {
    // Own properties only: `__proto__`, `constructor` or `toString` must be unknown fields, not Object.prototype's.
    const child = objects.map((o) => (Object.hasOwn(o.properties as object, name) ? (o.properties as Record<string, JsonSchema>)[name] : undefined)).find(Boolean);
    const path = parent ? `${parent}/${name}` : name;
    if (!child) throw invalidInput(`query parameter 'fields': unknown field '${path}'`);
    if (sub !== true) checkFields(sub, child, path);
  }
}

/** Applies a selection to an answer; lists apply it to each entry. Unselected and absent fields are left out. */
export function selectFields(value: unknown, selection: FieldSelection): unknown {
  if (Array.isArray(value)) return value.map((entry) => selectFields(entry, selection));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [name, sub] of selection) {
    const child = Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined;
    if (child === undefined) continue;
    // defineProperty: a field named `__proto__` is copied as data, never as the answer's prototype.
    Object.defineProperty(out, name, { value: sub === true ? child : selectFields(child, sub), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
