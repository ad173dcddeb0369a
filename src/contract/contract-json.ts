// The contract as JSON, made from openapi/berth.yaml by `make build` (dist/contract/berth-<sha256 of the YAML>.json),
// so that a start reads the document with JSON.parse instead of parsing 150 kB of YAML in JavaScript. js-yaml's parse
// took ~50 ms and left ~5 MiB resident for good (it woke V8's optimising compilers, and its young generation grew).
// The file is named by the hash of the YAML it was made from, so a build older than the YAML is never read: the YAML
// is parsed then, as before.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** openapi/berth.yaml in the project root: the nearest directory above this module holding it (src/ and dist/src/ alike). */
export function findContractFile(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'openapi', 'berth.yaml');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error('openapi/berth.yaml not found above the Berth sources');
  }
}

/** Where `make build` puts the JSON made from `yamlText`, the text of the contract file at `contractPath`. */
export function builtContractJsonPath(contractPath: string, yamlText: string): string {
  const sha256 = createHash('sha256').update(yamlText).digest('hex');
  return join(dirname(dirname(contractPath)), 'dist', 'contract', `berth-${sha256}.json`);
}

/** The contract as JSON text, parsed from its YAML. */
export function contractYamlToJson(yamlText: string): string {
  // Required here, not imported: a start that finds the built JSON never loads js-yaml for this.
  const yaml = createRequire(import.meta.url)('js-yaml') as typeof import('js-yaml');
  return JSON.stringify(yaml.load(yamlText));
}

/** The contract as JSON text: the build's, when it was made from exactly `yamlText`; else parsed from the YAML. */
export function contractJsonOf(contractPath: string, yamlText: string): string {
  try {
    return readFileSync(builtContractJsonPath(contractPath, yamlText), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return contractYamlToJson(yamlText);
  }
}
