// The body a command sends: a YAML or JSON file (`-f FILE`, `-f -` for standard input) parsed here first, so a
// file that does not parse is reported with the parser's line and column and nothing is sent; and `--arg k=v`
// values typed by the contract's schema for that property (booleans, integers, lists), so `--arg all-platforms=true`
// sends `true`.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { UsageError } from './cli-error.js';
import type { Contract, Operation } from './contract.js';

/** Reads and parses `file` (`-` is standard input). */
export function readBodyFile(file: string): unknown {
  const name = file === '-' ? 'standard input' : file;
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new UsageError(`-f ${file}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let value: unknown;
  try {
    // The core schema, as Berth parses YAML: plain JSON-compatible scalars (no dates or binaries).
    value = yaml.load(text, { schema: yaml.CORE_SCHEMA, filename: name });
  } catch (e) {
    if (!(e instanceof yaml.YAMLException)) throw e;
    const mark = e.mark as { line?: number; column?: number } | undefined;
    const where = mark?.line !== undefined ? ` at line ${mark.line + 1}, column ${(mark.column ?? 0) + 1}` : '';
    throw new UsageError(`${name} does not parse as YAML or JSON${where}: ${e.reason}; nothing was sent`);
  }
  if (value === undefined || value === null) throw new UsageError(`${name} is empty; nothing was sent`);
  return value;
}

/** One `--arg` value as the property's schema types it; a value the type cannot take is a usage error. */
function typedValue(contract: Contract, name: string, text: string, property: Record<string, unknown> | undefined): unknown {
  const schema = property ? contract.resolve(property) : {};
  const types = ([] as unknown[]).concat(schema.type ?? []);
  if (types.includes('boolean')) {
    if (text === 'true' || text === 'false') return text === 'true';
    throw new UsageError(`--arg ${name}=${text}: expected true or false`);
  }
  if (types.includes('integer') || types.includes('number')) {
    const number = Number(text);
    if (text.trim() === '' || !Number.isFinite(number)) throw new UsageError(`--arg ${name}=${text}: expected a number`);
    return number;
  }
  if (types.includes('array')) {
    return text.split(',').map((item) => typedValue(contract, name, item, schema.items as Record<string, unknown> | undefined));
  }
  return text;
}

/**
 * The body of an operation: the file's object (if any) with each `--arg name=value` set on it. Names the operation's
 * body does not know are sent as they are, for Berth to refuse with its own message.
 */
export function operationBody(contract: Contract, operation: Operation, file: string | undefined, args: string[]): unknown {
  const base = file !== undefined ? readBodyFile(file) : undefined;
  if (args.length === 0) return base;
  if (base !== undefined && (typeof base !== 'object' || Array.isArray(base))) throw new UsageError(`-f ${file}: --arg adds to an object, and the file holds none`);
  const body: Record<string, unknown> = { ...(base as Record<string, unknown> | undefined) };
  for (const arg of args) {
    const at = arg.indexOf('=');
    if (at <= 0) throw new UsageError(`--arg ${arg}: expected NAME=VALUE`);
    const name = arg.slice(0, at);
    body[name] = typedValue(contract, name, arg.slice(at + 1), operation.bodyProperties[name]);
  }
  return body;
}
