// Resource paths as a person types them -- `image-registry remote-registries registry.example.com` or the same with
// slashes, `config`/`state` first or left to the verb's default -- matched against the contract's path templates.
// A value with slashes (a site repository name) may span several words when its parameter's pattern allows it.
import type { Contract, Method, Operation, PathTemplate, Tree } from './contract.js';
import { UsageError } from './cli-error.js';

export interface ResolvedPath {
  template: PathTemplate;
  operation: Operation;
  /** The path to request, each parameter value percent-encoded (`/` in a value as `%2F`). */
  path: string;
}

/** The verb that uses each method, for messages. */
const VERB_OF: Record<Method, string> = { get: 'show', post: 'create (or do, for an operation)', put: 'replace', patch: 'merge', delete: 'delete' };

/** The words as path segments: split on `/`, empty ones dropped, a leading `v1` ignored; and the tree they name. */
export function readWords(words: string[], defaultTree: Tree): { tree: Tree; segments: string[] } {
  const segments = words.flatMap((word) => word.split('/')).filter((segment) => segment !== '');
  if (segments[0] === 'v1') segments.shift();
  if (segments[0] === 'config' || segments[0] === 'state') return { tree: segments.shift() as Tree, segments };
  return { tree: defaultTree, segments };
}

/**
 * The parameter values if `template` matches `segments` whole, else undefined. With `prefix`, segments may end
 * before the template does; the index of the template's next segment is returned with the values.
 */
function match(template: PathTemplate, segments: string[], prefix = false): { values: string[]; next: number } | undefined {
  const walk = (at: number, from: number): { values: string[]; next: number } | undefined => {
    if (from === segments.length) return at === template.segments.length || prefix ? { values: [], next: at } : undefined;
    const segment = template.segments[at];
    if (!segment) return undefined;
    if ('literal' in segment) return segment.literal === segments[from] ? walk(at + 1, from + 1) : undefined;
    for (let end = from + 1; end <= segments.length; end++) {
      const value = segments.slice(from, end).join('/');
      // A value spans several words only where its pattern says a `/` belongs in it.
      if (end - from > 1 && !segment.parameter.pattern?.test(value)) break;
      const rest = walk(at + 1, end);
      if (rest) return { values: [value, ...rest.values], next: rest.next };
    }
    return undefined;
  };
  return walk(0, 0);
}

/** Path parameter values keep `:` (registry ports) readable; everything else that is not safe is escaped. */
const encodeValue = (value: string) => encodeURIComponent(value).replace(/%3A/gi, ':');

function concretePath(template: PathTemplate, values: string[]): string {
  let index = 0;
  const parts = template.segments.map((segment) => ('literal' in segment ? segment.literal : encodeValue(values[index++]!)));
  return `/v1/${template.tree}/${parts.join('/')}`;
}

/** How a template reads in messages: `state image-registry remote-registries {remote-registry-address} pull`. */
export const describeTemplate = (template: PathTemplate) =>
  [template.tree, ...template.segments.map((s) => ('literal' in s ? s.literal : `{${s.parameter.name}}`))].join(' ');

/** The path `words` name, for `method`; a UsageError saying what exists when there is no such thing. */
export function resolvePath(contract: Contract, words: string[], defaultTree: Tree, method: Method): ResolvedPath {
  const { tree, segments } = readWords(words, defaultTree);
  const typed = [tree, ...segments].join(' ');
  const matches = contract.templates
    .filter((t) => t.tree === tree)
    .map((template) => ({ template, found: match(template, segments) }))
    .filter((m): m is { template: PathTemplate; found: { values: string[]; next: number } } => m.found !== undefined)
    // The most literal template first: `pulls/{id}` is not a remote registry named `pulls`.
    .sort((a, b) => a.found.values.length - b.found.values.length);
  if (matches.length === 0) {
    const known = nextSegments(contract, tree, segments.slice(0, -1));
    const hint = known.length > 0 ? `; after '${[tree, ...segments.slice(0, -1)].join(' ')}' come: ${known.join(', ')}` : '';
    throw new UsageError(`no such path in the API: '${typed}'${hint}`);
  }
  const chosen = matches.find((m) => m.template.operations.has(method));
  if (!chosen) {
    const offered = [...matches[0]!.template.operations.keys()].map((m) => `${VERB_OF[m]}`);
    throw new UsageError(`'${typed}' cannot be used with this verb; it offers: ${offered.join(', ')}`);
  }
  return { template: chosen.template, operation: chosen.template.operations.get(method)!, path: concretePath(chosen.template, chosen.found.values) };
}

/**
 * What may come after `segments` in `tree`: literal segments by name, parameters as `{name}`; for completion and
 * for messages. `method` narrows it to templates offering that method somewhere below.
 */
export function nextSegments(contract: Contract, tree: Tree, segments: string[], method?: Method): string[] {
  const found = new Set<string>();
  for (const template of contract.templates) {
    if (template.tree !== tree || (method && !template.operations.has(method))) continue;
    const at = match(template, segments, true);
    const next = at && template.segments[at.next];
    if (next) found.add('literal' in next ? next.literal : `{${next.parameter.name}}`);
  }
  return [...found].sort();
}
