// The `berth` command line: commander verbs and flags, the help that documents them (the resource list in it is
// generated from the contract), and the one place a command's outcome becomes an exit code and a line on stderr.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Argument, Command, CommanderError, Option } from 'commander';
import { ApiClient } from './api-client.js';
import { CliError, EXIT } from './cli-error.js';
import { candidates, completionScript, SHELLS } from './completion.js';
import { Contract, packageRoot, type Method } from './contract.js';
import { chooseTarget, contextsPath, sessionPath } from './contexts.js';
import { listContexts, login, logout, removeContext, useContext } from './login.js';
import { DEFAULT_SCOPE } from './sso/device-login.js';
import type { OutputFormat } from './render.js';
import { describeTemplate } from './resource-path.js';
import { doOperation, show, write, type DoOptions, type ShowOptions, type VerbContext, type WriteOptions, type WriteVerb } from './verbs.js';

export interface Io {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

interface GlobalOptions {
  context?: string;
  caCert?: string;
  output: OutputFormat;
  quiet?: boolean;
  verbose?: boolean;
}

const PATH_HELP = `the resource: words or slashes (image-registry remote-registries X = image-registry/remote-registries/X);
'config' or 'state' first chooses the tree`;

const VERB_NAMES: Record<Method, string> = { get: 'show', post: 'create', put: 'replace', patch: 'merge', delete: 'delete' };

/** Every path of the contract with the verbs it takes: the list in `berth --help`, made from the contract. */
function resourceList(contract: Contract): string {
  const rows = contract.templates.map((template) => {
    const verbs = [...template.operations.keys()].map((method) => (method === 'post' && template.tree === 'state' ? 'do' : VERB_NAMES[method]));
    return [describeTemplate(template), verbs.join(', ')] as const;
  });
  const width = Math.max(...rows.map(([path]) => path.length));
  return rows.map(([path, verbs]) => `  ${path.padEnd(width)}  ${verbs}`).join('\n');
}

function footer(contract: Contract): string {
  return `
Resources (from the API contract shipped with berth; {x} is a value you give):
${resourceList(contract)}

Where it talks to: the current context in ${contextsPath()} (berth login, berth context),
or BERTH_URL and BERTH_TOKEN (and BERTH_CA_CERT) over it. A context signs on with a token or with single
sign-on (berth login URL --sso, tokens refreshed silently); BERTH_TOKEN overrides both. Tokens are never printed.

Exit codes: 0 success, 1 Berth refused (its error-message on one line; -v adds the error-info), or the identity
provider refused, or not logged in; 2 usage error (nothing was sent); 3 Berth cannot be reached (or, signing on,
the identity provider); 130 interrupted (Ctrl-C).

Examples:
  berth login http://127.0.0.1:4646 --token "$(cat .run/admin-token)"
  berth login https://tower.example.com:4646 --sso
  berth show image-registry remote-registries --keys
  berth create image-registry remote-registries -f registry.yaml
  berth do image-registry remote-registries registry.example.com pull --arg image=app:v1 --arg platform=arm64
  berth show state image-registry pulls --site store-42`;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds the options every resource verb takes. */
function withVerbOptions(command: Command): Command {
  return command.option('--site <name>', 'carry the request out at this site (state and operations: ?site=)');
}

export function buildProgram(io: Io): Command {
  const contract = Contract.load();
  const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const program = new Command('berth');
  let client: ApiClient | undefined;
  const context: VerbContext = {
    contract,
    client: () => (client ??= new ApiClient(chooseTarget(program.opts<GlobalOptions>()))),
    stdout: io.stdout,
    stderr: io.stderr,
  };
  program.hook('postAction', async () => {
    await client?.close();
  });

  program
    .description('Drive Berth, the control plane for container images at edge sites, over its HTTP API.')
    .version(version, '-V, --version', 'print the version of berth')
    .helpOption('-h, --help', 'show help (berth VERB --help for a verb)')
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    .exitOverride()
    .showHelpAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .option('--context <name>', 'use this context instead of the current one')
    .option('--ca-cert <file>', 'CA certificate (PEM) to check a Berth behind TLS against')
    .addOption(new Option('-o, --output <format>', 'how answers are printed').choices(['yaml', 'json']).default('yaml'))
    .option('-q, --quiet', 'print nothing on success (the exit code tells)')
    .option('-v, --verbose', 'print more: the error-info of a refusal, ETags, status of writes')
    .addHelpText('after', footer(contract));

  /** A verb's own options with the global ones, as commander parsed them (names camel-cased: --if-match is ifMatch). */
  const options = <T extends object = GlobalOptions>(command: Command) => command.optsWithGlobals<GlobalOptions & T>();

  withVerbOptions(program.command('show'))
    .summary('read configuration, state, or a list (GET)')
    .description('Read a resource: the configuration tree by default, the state tree with `state` first. Lists take --keys or --count.')
    .argument('<path...>', PATH_HELP)
    .option('--fields <fields>', "only these fields (RFC 8040: 'address;credentials(repository;secret)')")
    .option('--keys', 'only the keys of a list')
    .option('--count', 'only the number of entries of a list')
    .addOption(new Option('--content <which>', 'state only: config leaves, non-config leaves, or all').choices(['config', 'nonconfig', 'all']))
    .option('--validate', 'check the request and answer nothing (validate=true)')
    .option('--write-dir <dir>', "write the files the answer lists under DIR (answers that hold files), ${NAME} placeholders filled in from the environment")
    .addHelpText('after', `
Examples:
  berth show image-registry remote-registries
  berth show image-registry remote-registries registry.example.com --fields 'address;credentials(repository)'
  berth show state image-registry remote-registries --keys --site store-42
  berth show state image-registry pulls
  BERTH_RUNTIME_TOKEN=... berth show state image-registry containerd-hosts --site store-42 --write-dir /etc/containerd/certs.d`)
    .action(async (words: string[], _flags, command: Command) => show(context, words, options<ShowOptions>(command)));

  const writes: Array<[WriteVerb, string, string, string]> = [
    ['create', 'create an entry in a list (POST)', 'Create an entry in a list from a YAML or JSON file: 201 when it is new, 409 when it exists.', 'berth create image-registry remote-registries -f registry.yaml'],
    ['merge', 'merge changes into an entry (plain PATCH)', 'Merge a YAML or JSON file into an entry: objects merge, scalars replace, null deletes a leaf, keyed lists (credentials) merge entry by entry.', 'berth merge image-registry remote-registries registry.example.com -f credential.yaml --if-match 3'],
    ['replace', 'replace an entry, or create it (PUT)', 'Replace an entry with a YAML or JSON file (or create it).', 'berth replace image-registry remote-registries registry.example.com -f registry.yaml'],
    ['delete', 'delete an entry (DELETE)', 'Delete an entry; with --if-match only if nobody changed it since its ETag was read (berth show -v prints it).', 'berth delete image-registry remote-registries registry.example.com --if-match 3'],
  ];
  for (const [verb, summary, description, example] of writes) {
    const command = withVerbOptions(program.command(verb)).summary(summary).description(description).argument('<path...>', PATH_HELP);
    if (verb !== 'delete') command.option('-f, --file <file>', "the body, YAML or JSON ('-' reads standard input)");
    command
      .option('--validate', 'check everything and write nothing (validate=true)')
      .option('--if-match <etag>', 'only if the entry still has this ETag (412 otherwise)')
      .addHelpText('after', `\nExample:\n  ${example}`)
      .action(async (words: string[], _flags, cmd: Command) => write(context, verb, words, options<WriteOptions>(cmd)));
  }

  withVerbOptions(program.command('do'))
    .summary('invoke an operation (POST on the state tree)')
    .description(`Invoke an operation: the path of the resource, then the operation's name. The body comes from --arg NAME=VALUE
(typed as the API's schema says: --arg all-platforms=true sends true) and/or -f FILE.
A pull shows one bar per blob on a terminal (plain lines when stdout is not one); Ctrl-C stops it at Berth.`)
    .argument('<path...>', `${PATH_HELP}; the last word is the operation`)
    .option('--arg <name=value>', 'a field of the body (repeat for more)', collect, [])
    .option('-f, --file <file>', "the body, YAML or JSON ('-' reads standard input); --arg adds to it")
    .option('--no-wait', 'answer at once and let the operation run to its end (wait=false)')
    .option('--validate', 'check the request and do nothing (validate=true), where the operation offers it')
    .addHelpText('after', `
Examples:
  berth do image-registry remote-registries registry.example.com verify-credentials --site store-42
  berth do image-registry remote-registries registry.example.com list-images --arg repository=team/app
  berth do image-registry remote-registries registry.example.com pull --arg image=team/app:v1 --arg platform=arm64
  berth do image-registry pull --arg image=registry.example.com/team/app:v1 --no-wait`)
    .action(async (words: string[], _flags, command: Command) => doOperation(context, words, options<DoOptions>(command)));

  program
    .command('login')
    .summary('sign on to a Berth (token or single sign-on) and keep it as a context')
    .description(
      [
        `Sign on to the Berth at URL and keep it in ${contextsPath()} (mode 0600) as a context (--context NAME, default 'default'), made the current one; --ca-cert (Berth's CA) is kept with it.`,
        'With a token: checks that URL is a Berth that accepts it, then keeps both. The token comes from --token, else BERTH_TOKEN, else it is asked for (not echoed).',
        `With --sso: single sign-on with the identity provider Berth names (at /.well-known/oauth-protected-resource), by the OAuth 2.0 device authorization grant. berth prints a URL and a code: open the URL in a browser, on any device, enter the code and sign in there. berth waits, then checks that Berth takes the access token. The access and refresh tokens are kept in ${sessionPath('NAME')} (mode 0600); every command uses the access token and refreshes it silently before it expires, and once more if Berth answers 401. Your role comes from your groups at the provider. --idp-ca-cert is kept in the context, as every refresh needs it. 'berth logout' forgets the tokens.`,
      ].join('\n\n'),
    )
    .argument('<url>', "Berth's address, http(s)://HOST:PORT")
    .option('--token <token>', 'the API token (beware: shell history keeps it; BERTH_TOKEN or the prompt do not)')
    .option('--sso', 'sign on with the identity provider Berth names (device flow) instead of a token')
    .option('--idp-ca-cert <file>', "with --sso: CA certificate (PEM) of the identity provider's TLS, when not one of the system's")
    .option('--scope <scope>', `with --sso: a scope to ask for besides '${DEFAULT_SCOPE}' (repeat for more; Entra ID needs its API's, e.g. api://berth/access)`, collect)
    .addHelpText('after', `
Examples:
  berth login http://127.0.0.1:4646 --token "$(cat .run/admin-token)"
  berth login https://tower.example.com:4646 --context tower --ca-cert tower-ca.pem
  berth login https://tower.example.com:4646 --sso
  berth login https://tower.example.com:4646 --sso --idp-ca-cert idp-ca.pem --scope api://berth/access`)
    .action(async (url: string, _flags, command: Command) => {
      const all = options<{ token?: string; sso?: boolean; idpCaCert?: string; scope?: string[] }>(command);
      await login(
        url,
        {
          ...(all.token !== undefined ? { token: all.token } : {}),
          ...(all.sso ? { sso: true } : {}),
          ...(all.idpCaCert !== undefined ? { idpCaCert: all.idpCaCert } : {}),
          ...(all.scope ? { scope: all.scope } : {}),
          ...(all.context ? { context: all.context } : {}),
          ...(all.caCert ? { caCert: all.caCert } : {}),
          ...(all.quiet ? { quiet: true } : {}),
        },
        io,
      );
    });

  program
    .command('logout')
    .summary("forget the current context's sign-on (--context NAME for another)")
    .description(
      [
        "Forget how the context signs on: the access and refresh tokens of its single sign-on (its session file is deleted), or its token. The context keeps its URL: 'berth login URL --sso' signs on again.",
        'Nothing is revoked: the identity provider is not told, so its own session and the refresh token it issued stay valid until they expire or you sign out there; a Berth token stays valid until an admin revokes it.',
      ].join('\n\n'),
    )
    .addHelpText('after', '\nExamples:\n  berth logout\n  berth logout --context tower')
    .action((_flags, command: Command) => {
      const all = options(command);
      logout(all.context, io, all.quiet);
    });

  const contexts = program.command('context').summary('list contexts, or choose the current one').description(`The contexts kept in ${contextsPath()}.`);
  contexts
    .command('list')
    .description('list the contexts (URL, CA files, whether a token is set or the single sign-on logged in; never a token)')
    .action((_flags, command: Command) => listContexts(io, options(command).output));
  contexts
    .command('use')
    .description('make a context the current one')
    .argument('<name>', 'the context')
    .action((name: string, _flags, command: Command) => useContext(name, io, options(command).quiet));
  contexts
    .command('remove')
    .description('forget a context and its token or single sign-on')
    .argument('<name>', 'the context')
    .action((name: string, _flags, command: Command) => removeContext(name, io, options(command).quiet));

  program
    .command('completion')
    .summary('print a shell completion script')
    .description('Print the completion script for bash or zsh. Load it with: source <(berth completion bash)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(SHELLS))
    .action((shell: (typeof SHELLS)[number]) => {
      io.stdout.write(completionScript(shell));
    });

  program
    .command('__complete', { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (words: string[]) => {
      for (const candidate of await candidates(program, contract, context.client, words)) io.stdout.write(`${candidate}\n`);
    });
  return program;
}

/** Runs `argv` (without node and the script) and returns the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  let program: Command;
  try {
    program = buildProgram(io);
  } catch (error) {
    io.stderr.write(`berth: ${(error as Error).message}\n`);
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    const verbose = program.opts<GlobalOptions>().verbose === true;
    if (error instanceof CliError) {
      io.stderr.write(`berth: ${error.message}\n`);
      if (verbose && error.detail) io.stderr.write(`${error.detail}\n`);
      return error.exitCode;
    }
    io.stderr.write(`berth: internal error (a bug in berth): ${(error as Error).message}\n`);
    if (verbose) io.stderr.write(`${(error as Error).stack ?? ''}\n`);
    return EXIT.refused;
  }
}
