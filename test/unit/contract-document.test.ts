// The contract document itself: a valid OpenAPI 3.1 document (checked with the OpenAPI 3.1 schema validator of
// express-openapi-validator, a development dependency for this check only) whose component schemas are valid JSON
// Schema 2020-12 (Ajv's meta-schema check) and compile, and whose every operation's request checks compile. Berth
// skips these checks at start-up (src/contract/openapi.ts, operation-checks.ts): the file cannot change while it runs,
// so they are made here, where a change to it is tested.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { OpenAPISchemaValidator } from 'express-openapi-validator/dist/framework/openapi.schema.validator.js';
import { contract, schemaValidator } from '../../src/contract/openapi.js';

const openApiProblems = (document: unknown) =>
  new OpenAPISchemaValidator({ version: '3.1.0', validateApiSpec: true }).validate(document as never).errors;

describe('the contract document', () => {
  it('is a valid OpenAPI 3.1 document', () => {
    assert.equal(contract.openapi, '3.1.0');
    assert.deepEqual(openApiProblems(contract), []);
  });

  it('fails that check when broken (the check can fail)', () => {
    const broken = structuredClone(contract) as Record<string, unknown>;
    delete broken.info;
    assert.notDeepEqual(openApiProblems(broken), []);
  });

  it('has component schemas that pass the JSON Schema 2020-12 meta-schema, and fail it when broken', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    for (const [name, schema] of Object.entries(contract.components.schemas)) {
      assert.equal(ajv.validateSchema(schema), true, `${name}: ${JSON.stringify(ajv.errors)}`);
    }
    const broken = { ...contract.components.schemas.RemoteRegistry, required: 'address' };
    assert.equal(ajv.validateSchema(broken), false);
  });

  it('compiles every component schema', () => {
    for (const name of Object.keys(contract.components.schemas)) {
      assert.equal(typeof schemaValidator(name), 'function', name);
    }
  });
});
