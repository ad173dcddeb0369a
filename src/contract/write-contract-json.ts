// `make build`'s last step: writes the contract as JSON where a start looks for it (contract-json.ts), and removes
// what earlier builds wrote for other versions of the YAML. Usage: node dist/src/contract/write-contract-json.js
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { builtContractJsonPath, contractYamlToJson, findContractFile } from './contract-json.js';

const contractPath = findContractFile();
const yamlText = readFileSync(contractPath, 'utf8');
const target = builtContractJsonPath(contractPath, yamlText);
const dir = dirname(target);
mkdirSync(dir, { recursive: true });
writeFileSync(`${target}.tmp`, contractYamlToJson(yamlText));
renameSync(`${target}.tmp`, target);
for (const name of readdirSync(dir)) {
  if (name !== basename(target)) rmSync(join(dir, name), { force: true });
}
