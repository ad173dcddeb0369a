// Shell completion: `berth completion bash|zsh` prints a script that asks `berth __complete WORDS...` for the
// candidates of the last word -- verbs, flags, and path segments from the contract; where a path takes a key (a
// registry address, a site name, a pull id) the keys Berth lists there, if it answers within a moment.
import type { Command } from 'commander';
import type { ApiClient } from './api-client.js';
import type { Contract, Method, Tree } from './contract.js';
import { readContexts } from './contexts.js';
import { nextSegments, readWords, resolvePath } from './resource-path.js';

const BASH = `# berth completion for bash: source <(berth completion bash)
# Registry addresses hold ':' (host:port): do not let bash split words there.
COMP_WORDBREAKS=\${COMP_WORDBREAKS//:/}
_berth_complete() {
  local IFS=$'\\n'
  COMPREPLY=($(berth __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _berth_complete berth
`;

const ZSH = `#compdef berth
# berth completion for zsh: source <(berth completion zsh)
_berth() {
  local -a candidates
  candidates=("\${(@f)$(berth __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -- \${candidates:#}
}
compdef _berth berth
`;

export const SHELLS = ['bash', 'zsh'] as const;

export function completionScript(shell: (typeof SHELLS)[number]): string {
  return shell === 'bash' ? BASH : ZSH;
}

/** The tree and method each path verb works on. */
const PATH_VERBS: Record<string, { tree: Tree; method: Method }> = {
  show: { tree: 'config', method: 'get' },
  create: { tree: 'config', method: 'post' },
  merge: { tree: 'config', method: 'patch' },
  replace: { tree: 'config', method: 'put' },
  delete: { tree: 'config', method: 'delete' },
  do: { tree: 'state', method: 'post' },
};

/** Options that take a value, whose value is therefore no path word. */
const takesValue = (command: Command, word: string) => command.options.some((o) => (o.long === word || o.short === word) && (o.required || o.optional));

/** Keys of the list at `segments` (GET with keys=true), when Berth answers within a second; none otherwise. */
async function listedKeys(contract: Contract, client: () => ApiClient, tree: Tree, segments: string[]): Promise<string[]> {
  try {
    const list = resolvePath(contract, [tree, ...segments], tree, 'get');
    if (!list.operation.query.has('keys')) return [];
    const signal = AbortSignal.timeout(1_000);
    const answer = await client().call('GET', list.path, { query: { keys: 'true' }, signal });
    return Array.isArray(answer.body) ? answer.body.map(String) : [];
  } catch {
    return [];
  }
}

/** Candidates for the last of `words` (the words after `berth`, the last one being typed). */
export async function candidates(program: Command, contract: Contract, client: () => ApiClient, words: string[]): Promise<string[]> {
  const typing = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const verbs = program.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden).map((c) => c.name());
  const matching = (list: string[]) => list.filter((c) => c.startsWith(typing));
  if (before.length === 0) return matching(verbs);
  const command = program.commands.find((c) => c.name() === before[0]);
  if (!command) return [];
  const previous = before.at(-1)!;
  if (typing.startsWith('-')) return matching([...command.options, ...program.options].flatMap((o) => [o.long, o.short].filter((f): f is string => !!f)));
  if (previous === '-o' || previous === '--output') return matching(['yaml', 'json']);
  if (before.length > 1 && takesValue(command, previous)) return [];
  switch (command.name()) {
    case 'completion':
      return before.length === 1 ? matching([...SHELLS]) : [];
    case 'context':
      if (before.length === 1) return matching(command.commands.map((c) => c.name()));
      return before.length === 2 && ['use', 'remove'].includes(before[1]!) ? matching(Object.keys(readContexts().contexts)) : [];
  }
  const verb = PATH_VERBS[command.name()];
  if (!verb) return [];
  // The path so far: the words after the verb that are neither flags nor flag values.
  const pathWords = before.slice(1).filter((word, i, all) => !word.startsWith('-') && !(i > 0 && takesValue(command, all[i - 1]!)));
  const { tree, segments } = readWords(pathWords, verb.tree);
  const next = nextSegments(contract, tree, segments, verb.method);
  const found = next.filter((n) => !n.startsWith('{'));
  if (next.some((n) => n.startsWith('{'))) found.push(...(await listedKeys(contract, client, tree, segments)));
  if (pathWords.length === 0) found.push('config', 'state');
  return matching(found);
}
