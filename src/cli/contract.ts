// What the CLI knows of the API, all of it read from the contract shipped with the package (openapi/berth.yaml):
// the paths and their methods, each operation's query parameters, request body properties and answer media types.
// A resource added to the contract is a resource the CLI can reach, with no change here.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

type Json = Record<string, unknown>;

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Tree = 'config' | 'state';

export interface Parameter {
  name: string;
  /** The schema's `pattern`, when it has one. */
  pattern?: RegExp;
}

export interface Operation {
  method: Method;
  summary: string;
  /** Names of the query parameters the operation takes (`fields`, `keys`, `site`, ...). */
  query: Set<string>;
  /** Properties of its request body (JSON schema, `$ref`s followed), when it takes one. */
  bodyProperties: Record<string, Json>;
  /** Media types its 200 answer is offered in. */
  answerTypes: Set<string>;
  /** `x-berth-files`: the field of its answer listing files (`path`, `content`) a client may write to a directory. */
  files?: string;
}

export interface PathTemplate {
  /** As in the contract, e.g. `/v1/state/image-registry/remote-registries/{remote-registry-address}/pull`. */
  path: string;
  tree: Tree;
  /** The segments after `/v1/<tree>/`: a literal, or a path parameter. */
  segments: Array<{ literal: string } | { parameter: Parameter }>;
  operations: Map<Method, Operation>;
}

/** The directory holding openapi/ and package.json: the nearest above this module (src/cli/ and dist/src/cli/ alike). */
export function packageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'openapi', 'berth.yaml'))) return dir;
    if (dirname(dir) === dir) throw new Error('openapi/berth.yaml not found above the berth CLI');
  }
}

export class Contract {
  readonly templates: PathTemplate[];

  constructor(private readonly document: Json) {
    const paths = (document.paths ?? {}) as Record<string, Json>;
    this.templates = Object.entries(paths).flatMap(([path, item]) => {
      const match = /^\/v1\/(config|state)\/(.+)$/.exec(path);
      return match ? [this.template(path, match[1] as Tree, match[2]!, item)] : [];
    });
  }

  static load(file = join(packageRoot(), 'openapi', 'berth.yaml')): Contract {
    return new Contract(yaml.load(readFileSync(file, 'utf8')) as Json);
  }

  /** Follows `$ref`s (and a lone `allOf`) to the schema or object they name. */
  resolve(node: unknown): Json {
    let current = (node ?? {}) as Json;
    for (let depth = 0; depth < 32; depth++) {
      if (typeof current.$ref === 'string') {
        current = current.$ref
          .replace(/^#\//, '')
          .split('/')
          .reduce<unknown>((at, part) => (at as Json | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], this.document) as Json;
      } else if (Array.isArray(current.allOf) && current.allOf.length === 1 && current.type === undefined) {
        current = { ...(current.allOf[0] as Json), ...(current.description ? { description: current.description } : {}) };
      } else break;
    }
    return current ?? {};
  }

  private parameters(nodes: unknown): Array<Json & { name: string; in: string }> {
    return ((nodes ?? []) as unknown[]).map((p) => this.resolve(p) as Json & { name: string; in: string });
  }

  private template(path: string, tree: Tree, rest: string, item: Json): PathTemplate {
    const pathParameters = new Map(
      this.parameters(item.parameters)
        .filter((p) => p.in === 'path')
        .map((p) => {
          const pattern = this.resolve(p.schema).pattern;
          return [p.name, { name: p.name, ...(typeof pattern === 'string' ? { pattern: new RegExp(pattern) } : {}) }] as const;
        }),
    );
    const segments = rest.split('/').map((segment) => {
      const name = /^\{(.+)\}$/.exec(segment)?.[1];
      return name === undefined ? { literal: segment } : { parameter: pathParameters.get(name) ?? { name } };
    });
    const operations = new Map<Method, Operation>();
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const operation = item[method] as Json | undefined;
      if (!operation) continue;
      const query = new Set(
        [...this.parameters(item.parameters), ...this.parameters(operation.parameters)].filter((p) => p.in === 'query').map((p) => p.name),
      );
      const content = (this.resolve(operation.requestBody).content ?? {}) as Record<string, Json>;
      const bodySchema = this.resolve((content['application/json'] ?? content['application/yaml'])?.schema);
      const ok = this.resolve(((operation.responses ?? {}) as Json)['200']);
      operations.set(method, {
        method,
        summary: typeof operation.summary === 'string' ? operation.summary : '',
        query,
        bodyProperties: (bodySchema.properties ?? {}) as Record<string, Json>,
        answerTypes: new Set(Object.keys((ok.content ?? {}) as Json)),
        ...(typeof operation['x-berth-files'] === 'string' ? { files: operation['x-berth-files'] } : {}),
      });
    }
    return { path, tree, segments, operations };
  }
}
