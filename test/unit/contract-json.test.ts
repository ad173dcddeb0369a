// The contract as JSON that `make build` writes (src/contract/contract-json.ts) and a start reads instead of the
// YAML: it is the YAML's document exactly, it is read only when made from the YAML as it is now, and the document
// loses nothing on the way through JSON (js-yaml would make a Date of an unquoted timestamp; JSON cannot hold one).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import yaml from 'js-yaml';
import { contract, contractJson, contractPath, contractYaml } from '../../src/contract/openapi.js';
import { builtContractJsonPath, contractJsonOf } from '../../src/contract/contract-json.js';

describe('the contract as JSON', () => {
  it('is what the build wrote for the YAML as it is now, and holds the YAML document exactly', () => {
    const built = builtContractJsonPath(contractPath, contractYaml);
    assert.ok(existsSync(built), `${built} is missing: run \`make build\``);
    const parsed = yaml.load(contractYaml);
    assert.equal(readFileSync(built, 'utf8'), JSON.stringify(parsed));
    assert.equal(contractJson, JSON.stringify(parsed));
    assert.deepStrictEqual(contract, parsed);
  });

  it('is read from the build only when made from the same YAML; else the YAML is parsed', () => {
    const root = mkdtempSync(join(tmpdir(), 'berth-contract-json-'));
    try {
      const yamlPath = join(root, 'openapi', 'berth.yaml');
      const first = 'openapi: 3.1.0\ninfo: {title: a, version: "1"}\n';
      const changed = 'openapi: 3.1.0\ninfo: {title: b, version: "1"}\n';
      assert.notEqual(builtContractJsonPath(yamlPath, first), builtContractJsonPath(yamlPath, changed));
      const built = builtContractJsonPath(yamlPath, first);
      assert.equal(dirname(built), join(root, 'dist', 'contract'));
      mkdirSync(dirname(built), { recursive: true });
      writeFileSync(built, '{"from":"the build"}');
      assert.equal(contractJsonOf(yamlPath, first), '{"from":"the build"}');
      assert.deepEqual(JSON.parse(contractJsonOf(yamlPath, changed)), { openapi: '3.1.0', info: { title: 'b', version: '1' } });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
