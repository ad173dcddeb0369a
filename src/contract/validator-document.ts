// The copy of the contract handed to express-openapi-validator. The library turns `{name}` into an Express
// `:name` route parameter, and path-to-regexp ends a parameter name at a `-`, so `{remote-registry-address}`
// would never match. This copy renames hyphenated path parameters (`remoteRegistryAddress`); the served
// contract keeps the names of the source document, and routes never read the validator's parameter names.
import { contract, type OpenApiDocument } from './openapi.js';

const camel = (name: string) => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function renamePathParameters(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(renamePathParameters);
  if (!node || typeof node !== 'object') return;
  const parameter = node as { in?: unknown; name?: unknown };
  if (parameter.in === 'path' && typeof parameter.name === 'string') parameter.name = camel(parameter.name);
  Object.values(node).forEach(renamePathParameters);
}

export function validatorDocument(): OpenApiDocument {
  const copy = structuredClone(contract);
  const paths = copy.paths as Record<string, unknown>;
  copy.paths = Object.fromEntries(Object.entries(paths).map(([path, item]) => [path.replace(/\{([^}]+)\}/g, (_, n: string) => `{${camel(n)}}`), item]));
  renamePathParameters(copy.paths);
  renamePathParameters(copy.components);
  return copy;
}
