// The contract's checks of one operation (src/contract/operation-checks.ts): path and query parameters, no parameter
// the operation does not take, the body's media type and schema. The /v1 routes behind them are tested end to end in
// test/integration (hostile-access, remote-registries-api and the others); this holds the rules one by one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { contract } from '../../src/contract/openapi.js';
import { operationCheck, type RequestParts } from '../../src/contract/operation-checks.js';

const REGISTRIES = '/v1/config/image-registry/remote-registries';
const REGISTRY = `${REGISTRIES}/{remote-registry-address}`;
const AUDIT = '/v1/state/system/audit';
const PULL = '/v1/state/image-registry/remote-registries/{remote-registry-address}/pull';

const request = (parts: Partial<RequestParts>): RequestParts => ({ path: {}, query: {}, mediaType: undefined, body: undefined, ...parts });
const registryPath = { 'remote-registry-address': 'registry.example.com:5000' };

/** The error a request gets, as `kind: message`; undefined when it passes. */
function problem(template: string, method: string, parts: Partial<RequestParts>): string | undefined {
  const error = operationCheck(template, method)(request(parts));
  return error && `${error.kind}: ${error.message}`;
}

type Parameter = { in: string; required?: boolean; $ref?: string };
type PathItem = { parameters?: Parameter[] } & Record<string, { parameters?: Parameter[] }>;
const operations = Object.entries(contract.paths as Record<string, PathItem>).flatMap(([template, item]) =>
  Object.keys(item)
    .filter((key) => key !== 'parameters')
    .map((method) => ({ template, method: method.toUpperCase(), parameters: [...(item.parameters ?? []), ...(item[method]!.parameters ?? [])] })),
);

describe('operation checks', () => {
  it('compile for every operation of the contract', () => {
    assert.ok(operations.length > 30);
    for (const { template, method } of operations) {
      const check = operationCheck(template, method);
      // Called, so every schema of the operation is compiled: a path with empty parameters never passes.
      const empty = Object.fromEntries([...template.matchAll(/\{([^}]+)\}/g)].map((m) => [m[1]!, '']));
      const error = check(request({ path: empty, query: { 'not-a-parameter': 'x' } }));
      assert.equal(error?.kind, 'invalid-input', `${method} ${template}`);
    }
  });

  it('hold every query parameter of the contract to be optional, as they check only the values present', () => {
    const resolve = (p: Parameter) => (p.$ref ? (contract.components as unknown as { parameters: Record<string, Parameter> }).parameters[p.$ref.split('/').pop()!]! : p);
    for (const { template, method, parameters } of operations) {
      for (const parameter of parameters.map(resolve)) {
        if (parameter.in === 'query') assert.notEqual(parameter.required, true, `${method} ${template}: a required query parameter`);
      }
    }
  });

  it('pass a request the contract allows', () => {
    assert.equal(problem(REGISTRY, 'GET', { path: registryPath, query: { fields: 'address' } }), undefined);
    assert.equal(problem(AUDIT, 'GET', { query: { limit: '5', before: '12', path: '/v1/config' } }), undefined);
    const body = { address: 'registry.example.com', credentials: [{ repository: '*', vault: 'kv', secret: 'a' }] };
    assert.equal(problem(REGISTRIES, 'POST', { mediaType: 'application/json', body }), undefined);
    assert.equal(problem(REGISTRIES, 'POST', { mediaType: 'application/yaml', body }), undefined);
  });

  it('refuse a query parameter the operation does not take, naming those it takes', () => {
    assert.equal(problem(REGISTRY, 'GET', { path: registryPath, query: { colour: 'blue' } }), "invalid-input: query parameter 'colour': unknown here (this operation takes fields, validate)");
    assert.match(problem(REGISTRY, 'GET', { path: registryPath, query: { site: 'edge-1' } }) ?? '', /query parameter 'site': unknown here/);
  });

  it('check a path parameter as decoded text against its schema', () => {
    assert.match(problem(REGISTRY, 'GET', { path: { 'remote-registry-address': 'UPPER_bad!' } }) ?? '', /^invalid-input: path parameter 'remote-registry-address': must be a registry host/);
  });

  it('read an integer query parameter as the number its digits spell, and nothing else as one', () => {
    assert.equal(problem(AUDIT, 'GET', { query: { limit: '1000' } }), undefined);
    for (const text of ['abc', '1.5', '1e2', '0x10', ' 1', '', '99999999999999999999']) {
      assert.match(problem(AUDIT, 'GET', { query: { limit: text } }) ?? '', /^invalid-input: query parameter 'limit': must be integer$/, JSON.stringify(text));
    }
    assert.equal(problem(AUDIT, 'GET', { query: { limit: '0' } }), "invalid-input: query parameter 'limit': must be >= 1");
    assert.equal(problem(AUDIT, 'GET', { query: { limit: '1001' } }), "invalid-input: query parameter 'limit': must be <= 1000");
  });

  it('refuse a parameter given twice', () => {
    assert.equal(problem(AUDIT, 'GET', { query: { limit: ['2', '3'] } }), "invalid-input: query parameter 'limit': must be integer");
    assert.equal(problem(REGISTRY, 'GET', { path: registryPath, query: { fields: ['address', 'credentials'] } }), "invalid-input: query parameter 'fields': must be string");
  });

  it('name the allowed values of an enumeration', () => {
    assert.equal(problem(REGISTRIES, 'GET', { query: { keys: 'false' } }), "invalid-input: query parameter 'keys': must be equal to one of the allowed values: true");
  });

  it('answer 415 for a body of a media type the operation does not take, or none where one is required', () => {
    assert.equal(problem(REGISTRIES, 'POST', {}), 'unsupported-media-type: body: required, with content type application/json, application/yaml, application/x-yaml or text/yaml (got none)');
    assert.match(problem(REGISTRIES, 'POST', { mediaType: 'application/merge-patch+json', body: {} }) ?? '', /^unsupported-media-type: body: content type 'application\/merge-patch\+json' is not taken here/);
    assert.equal(problem(REGISTRY, 'PATCH', { path: registryPath, mediaType: 'application/merge-patch+json', body: {} }), undefined);
  });

  it('answer 400 for a body declared (a content type) but empty where one is required', () => {
    assert.equal(problem(REGISTRIES, 'POST', { mediaType: 'application/json' }), 'invalid-input: body: is required');
  });

  it('take no body where the body is optional', () => {
    assert.equal(problem(PULL, 'POST', { path: registryPath }), 'unsupported-media-type: body: required, with content type application/json, application/yaml, application/x-yaml or text/yaml (got none)');
    const verify = '/v1/state/image-registry/remote-registries/{remote-registry-address}/verify-credentials';
    assert.equal(problem(verify, 'POST', { path: registryPath }), undefined);
  });

  it('say where a body breaks its schema, in the error and its info', () => {
    const error = operationCheck(REGISTRIES, 'POST')(request({ mediaType: 'application/json', body: { address: 'r.example.com', credentials: [{ repository: '*', vault: 'kv' }], colour: 1 } }));
    assert.equal(error?.kind, 'invalid-input');
    assert.match(error!.message, /credentials\[0\]\.secret: is required/);
    assert.match(error!.message, /colour: is not a known field/);
    assert.deepEqual(error!.info && Object.keys(error!.info), ['path']);
    assert.equal(problem(REGISTRIES, 'POST', { mediaType: 'application/json', body: [] }), 'invalid-input: body: must be object');
  });
});
