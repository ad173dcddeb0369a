// The OpenAPI document (openapi/berth.yaml) loaded once: served as-is, read by the request checks of each operation
// (operation-checks.ts), and compiled with Ajv so domain modules can validate whole objects (e.g. a patched
// registry) against it.
// Ajv itself loads, and each schema compiles, when a validator is first used: not at start-up (about 10 MiB, 40 ms).
// The document is read from the JSON `make build` made of the YAML (contract-json.ts), not parsed from the YAML.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { contractJsonOf, findContractFile } from './contract-json.js';

export type OpenApiDocument = Record<string, unknown> & { components: { schemas: Record<string, JsonSchema> } };
export type JsonSchema = Record<string, unknown>;

export const contractPath = findContractFile();
export const contractYaml = readFileSync(contractPath, 'utf8');
export const contractJson = contractJsonOf(contractPath, contractYaml);
export const contract = JSON.parse(contractJson) as OpenApiDocument;

let ajv: Ajv2020 | undefined;
function contractAjv(): Ajv2020 {
  if (!ajv) {
    // Required (Ajv is CommonJS) so a validator can stay synchronous while Ajv loads only when first needed.
    const require = createRequire(import.meta.url);
    const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    const addFormats = require('ajv-formats') as { default: (a: Ajv2020) => void };
    ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    // Not checked against the JSON Schema meta-schema at every start (~50 ms, and only the document's root, which
    // holds no schema keywords): test/unit/contract-document.test.ts checks every component schema.
    ajv.addSchema(contract, 'berth', undefined, false);
  }
  return ajv;
}

const compiled = new Map<string, ValidateFunction>();

function compile(pointer: string): ValidateFunction {
  let validate = compiled.get(pointer);
  if (!validate) {
    validate = contractAjv().getSchema(`berth${pointer}`);
    if (!validate) throw new Error(`no schema at ${pointer} in the contract`);
    compiled.set(pointer, validate);
  }
  return validate;
}

/** Checks a value against one schema; after a call, `errors` says what failed (Ajv's errors), or is null. */
export type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** A validator for a JSON pointer into the document, e.g. `#/components/schemas/RemoteRegistry`; compiled at its first call. */
export function validatorFor(pointer: string): Validator {
  const validate: Validator = (data) => {
    const compiledValidate = compile(pointer);
    const valid = compiledValidate(data) as boolean;
    validate.errors = compiledValidate.errors;
    return valid;
  };
  return validate;
}

export const schemaValidator = (name: string) => validatorFor(`#/components/schemas/${name}`);

/** The schema named `name` in components/schemas, with its top-level `$ref` followed. */
export function componentSchema(name: string): JsonSchema {
  const schema = contract.components.schemas[name];
  if (!schema) throw new Error(`no schema ${name} in the contract`);
  return resolveRef(schema);
}

/** The node of the document at a JSON pointer (`/components/schemas/RemoteRegistry`). */
export const nodeAtPointer = (pointer: string): JsonSchema =>
  pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<JsonSchema>((at, segment) => at[segment] as JsonSchema, contract);

/** A node of the document and its JSON pointer. */
export interface LocatedNode {
  node: JsonSchema;
  pointer: string;
}

/** The node a `$ref` within the document names, and its pointer, followed until no reference is left. */
export function followRef(located: LocatedNode): LocatedNode {
  let { node, pointer } = located;
  while (typeof node.$ref === 'string' && node.$ref.startsWith('#/')) {
    pointer = node.$ref.slice(1);
    node = nodeAtPointer(pointer);
  }
  return { node, pointer };
}

export const resolveRef = (schema: JsonSchema): JsonSchema => followRef({ node: schema, pointer: '' }).node;

/**
 * Friendlier words for pattern failures: a pattern's schema `description` says what the field must be,
 * where Ajv can only quote the regular expression.
 */
const patternDescriptions = new Map<string, string>();
(function collect(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(collect);
  if (!node || typeof node !== 'object') return;
  const { pattern, description } = node as { pattern?: unknown; description?: unknown };
  if (typeof pattern === 'string' && typeof description === 'string') {
    patternDescriptions.set(pattern, description.split(/\.\s/)[0]!.replace(/\.$/, '').trim());
  }
  Object.values(node).forEach(collect);
})(contract.components.schemas);

/**
 * Plain words for schema messages: `must match pattern "^...$"` becomes `must be <what the pattern's schema
 * describes>`, and `must have required property 'x'` (reported at the missing property) becomes `is required`.
 */
export function plainSchemaMessage(message: string): string {
  if (/^must have required property '[^']*'$/.test(message)) return 'is required';
  return message.replace(/^must match pattern "(.*)"$/s, (whole, pattern: string) => {
    const description = patternDescriptions.get(pattern);
    return description ? `must be ${description.charAt(0).toLowerCase()}${description.slice(1)}` : whole;
  });
}

/** `/credentials/1/repository` -> `credentials[1].repository`, the form error messages use. */
export function pointerToFieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

export interface SchemaProblem {
  /** JSON pointer of the offending value, e.g. `/credentials/1/repository`. */
  pointer: string;
  message: string;
}

export function describeAjvErrors(errors: ErrorObject[] | null | undefined): SchemaProblem[] {
  return (errors ?? [])
    // oneOf/anyOf repeat what their branches already said.
    .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if')
    .map((e) => {
      const pointer =
        e.keyword === 'additionalProperties'
          ? `${e.instancePath}/${String((e.params as { additionalProperty: string }).additionalProperty)}`
          : e.keyword === 'required'
            ? `${e.instancePath}/${String((e.params as { missingProperty: string }).missingProperty)}`
            : e.instancePath;
      const message =
        e.keyword === 'additionalProperties'
          ? 'is not a known field'
          : e.keyword === 'required'
            ? 'is required'
            : e.keyword === 'enum'
              ? `must be equal to one of the allowed values: ${(e.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ')}`
              : plainSchemaMessage(e.message ?? 'is invalid');
      return { pointer, message };
    });
}
