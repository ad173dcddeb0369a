// Vault's limits on JSON request bodies (its listener's max_json_depth, max_json_string_value_length,
// max_json_object_entry_count and max_json_array_element_count, with Vault's defaults). A body beyond
// them is refused with 400 before it is parsed: deep nesting would otherwise overflow the stack
// later (structuredClone fails near 3,000 levels, JSON.stringify near 5,000) after the data was
// already stored, and every read of it would fail with it.

import { badRequest } from './vault-error.js';

export interface JsonLimits {
  maxDepth: number;
  maxStringBytes: number;
  maxObjectEntries: number;
  maxArrayElements: number;
}

export const VAULT_JSON_LIMITS: JsonLimits = {
  maxDepth: 300,
  maxStringBytes: 1_048_576,
  maxObjectEntries: 10_000,
  maxArrayElements: 10_000,
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Measures JSON text in one pass with a constant stack, without building anything; throws a 400
 * naming the first limit exceeded. Text that is not JSON passes here and fails in JSON.parse.
 */
export function checkJsonLimits(text: string, limits: JsonLimits = VAULT_JSON_LIMITS): void {
  // One entry per open container: whether it is an object, and the commas seen in it so far.
  const isObject: boolean[] = [];
  const commas: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i, limits.maxStringBytes);
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (isObject.length >= limits.maxDepth) throw tooLarge(`nesting depth exceeds the limit of ${limits.maxDepth}`);
      isObject.push(c === 0x7b);
      commas.push(0);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      isObject.pop();
      commas.pop();
    } else if (c === 0x2c /* , */ && commas.length > 0) {
      const top = commas.length - 1;
      const members = ++commas[top]! + 1;
      if (isObject[top] && members > limits.maxObjectEntries) {
        throw tooLarge(`an object has more than ${limits.maxObjectEntries} entries`);
      }
      if (!isObject[top] && members > limits.maxArrayElements) {
        throw tooLarge(`an array has more than ${limits.maxArrayElements} elements`);
      }
    }
  }
}

/** The index of the quote closing the string that opens at `start`; the string's UTF-8 length is checked. */
function endOfString(text: string, start: number, maxBytes: number): number {
  let bytes = 0;
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) break;
    if (c === BACKSLASH) {
      // An escape counts as written: a bound on the decoded length too.
      bytes += 2;
      i += 2;
      continue;
    }
    // Each half of a surrogate pair counts 2: 4 bytes for the pair, as UTF-8 encodes it.
    bytes += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
    i++;
  }
  if (bytes > maxBytes) throw tooLarge(`a string is longer than ${maxBytes} bytes`);
  return i;
}

function tooLarge(what: string) {
  return badRequest(`failed to parse JSON input: ${what}`);
}
