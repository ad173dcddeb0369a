// The verbs over the API's resources, shaped like supctl's: show (GET), create (POST), merge (plain PATCH), replace
// (PUT), delete (DELETE) and do (an operation, POST). Each resolves its path and flags against the contract, so a
// flag the operation does not take is refused before anything is sent; then it calls Berth and prints the answer.
import { RefusedError, UnreachableError, UsageError } from './cli-error.js';
import { interruptible } from './interruptible.js';
import type { ApiClient, RawAnswer } from './api-client.js';
import type { Contract, Method } from './contract.js';
import { plainProgress, terminalProgress, type ProgressEvent, type ProgressView } from './pull-progress-view.js';
import { render, type OutputFormat } from './render.js';
import { operationBody, readBodyFile } from './request-body.js';
import { resolvePath, type ResolvedPath } from './resource-path.js';
import { writeAnswerFiles } from './answer-files.js';

/** Options every verb takes. */
export interface VerbOptions {
  site?: string;
  output: OutputFormat;
  quiet?: boolean;
  verbose?: boolean;
}

export interface ShowOptions extends VerbOptions {
  fields?: string;
  keys?: boolean;
  count?: boolean;
  content?: string;
  validate?: boolean;
  /** Write the files the answer lists (operations with `x-berth-files`) under this directory. */
  writeDir?: string;
}

export interface WriteOptions extends VerbOptions {
  file?: string;
  validate?: boolean;
  ifMatch?: string;
}

export interface DoOptions extends VerbOptions {
  file?: string;
  arg: string[];
  /** `--no-wait` makes this false. */
  wait: boolean;
  validate?: boolean;
}

/** What a verb needs around it: the contract, a client for the Berth chosen, and where to write. */
export interface VerbContext {
  contract: Contract;
  client: () => ApiClient;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

const NDJSON = 'application/x-ndjson';

/** The query parameters of the flags given; each must be one the operation takes. */
function queryOf(resolved: ResolvedPath, flags: Array<[flag: string, parameter: string, value: string | undefined]>): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [flag, parameter, value] of flags) {
    if (value === undefined) continue;
    if (!resolved.operation.query.has(parameter)) {
      throw new UsageError(`${flag}: ${resolved.operation.method.toUpperCase()} ${resolved.template.path} does not take '${parameter}'`);
    }
    query[parameter] = value;
  }
  return query;
}

/** An ETag as the API writes it (`"7"`), whether the person typed `7` or `"7"`. */
const quotedEtag = (etag: string) => (/^(W\/)?"/.test(etag) ? etag : `"${etag}"`);

function print(context: VerbContext, options: VerbOptions, value: unknown): void {
  if (!options.quiet) context.stdout.write(render(value, options.output));
}

/** With -v, a line on stderr saying how Berth answered a write (status, Location, ETag). */
function describeWrite(context: VerbContext, options: VerbOptions, status: number, headers: Record<string, string | string[] | undefined>): void {
  if (!options.verbose) return;
  const extra = ['location', 'etag'].filter((h) => headers[h] !== undefined).map((h) => `${h === 'etag' ? 'ETag' : 'Location'}: ${String(headers[h])}`);
  context.stderr.write(`${status}${extra.length ? ` (${extra.join(', ')})` : ''}\n`);
}

export async function show(context: VerbContext, words: string[], options: ShowOptions): Promise<void> {
  const resolved = resolvePath(context.contract, words, 'config', 'get');
  const files = resolved.operation.files;
  if (options.writeDir !== undefined) {
    if (files === undefined) throw new UsageError(`--write-dir: GET ${resolved.template.path} answers no files to write`);
    if (options.fields || options.keys || options.count || options.validate) throw new UsageError('--write-dir takes the whole answer: not with --fields, --keys, --count or --validate');
  }
  const query = queryOf(resolved, [
    ['--fields', 'fields', options.fields],
    ['--keys', 'keys', options.keys ? 'true' : undefined],
    ['--count', 'count', options.count ? 'true' : undefined],
    ['--content', 'content', options.content],
    ['--validate', 'validate', options.validate ? 'true' : undefined],
    ['--site', 'site', options.site],
  ]);
  const answer = await context.client().call('GET', resolved.path, { query });
  if (options.verbose && answer.headers.etag) context.stderr.write(`ETag: ${String(answer.headers.etag)}\n`);
  if (options.writeDir !== undefined && files !== undefined) {
    const written = writeAnswerFiles(answer.body, files, options.writeDir, process.env);
    if (!options.quiet) context.stdout.write(written.map((path) => `wrote ${path}\n`).join(''));
    return;
  }
  print(context, options, answer.body);
}

const WRITE_METHODS = { create: 'post', merge: 'patch', replace: 'put', delete: 'delete' } as const satisfies Record<string, Method>;
export type WriteVerb = keyof typeof WRITE_METHODS;

export async function write(context: VerbContext, verb: WriteVerb, words: string[], options: WriteOptions): Promise<void> {
  const resolved = resolvePath(context.contract, words, 'config', WRITE_METHODS[verb]);
  const query = queryOf(resolved, [
    ['--validate', 'validate', options.validate ? 'true' : undefined],
    ['--site', 'site', options.site],
  ]);
  if (verb !== 'delete' && options.file === undefined) throw new UsageError(`berth ${verb} needs the body: -f FILE (YAML or JSON), or -f - to read it from standard input`);
  if (verb === 'create' && options.ifMatch !== undefined) throw new UsageError('--if-match: create makes a new entry; there is nothing to match');
  const body = options.file !== undefined ? readBodyFile(options.file) : undefined;
  const answer = await context.client().call(resolved.operation.method.toUpperCase(), resolved.path, {
    query,
    ...(body !== undefined ? { body } : {}),
    ...(options.ifMatch !== undefined ? { headers: { 'if-match': quotedEtag(options.ifMatch) } } : {}),
  });
  describeWrite(context, options, answer.status, answer.headers);
  if (answer.body !== undefined) print(context, options, answer.body);
}

/**
 * Reads an NDJSON answer line by line: events to `onEvent`, and the last line, which is the answer or an error body;
 * undefined when the stream broke off before it.
 */
async function followStream(answer: RawAnswer, onEvent: (event: ProgressEvent) => void, signal: AbortSignal): Promise<unknown> {
  let buffered = '';
  let last: unknown;
  const take = (line: string) => {
    if (line.trim() === '') return;
    const value = JSON.parse(line) as Record<string, unknown>;
    if (typeof value.event === 'string') onEvent(value as ProgressEvent);
    else last = value;
  };
  try {
    for await (const chunk of answer.body) {
      buffered += (chunk as Buffer).toString();
      for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
        take(buffered.slice(0, at));
        buffered = buffered.slice(at + 1);
      }
    }
  } catch (error) {
    if (signal.aborted) throw error;
    return undefined;
  }
  take(buffered);
  return last;
}

export async function doOperation(context: VerbContext, words: string[], options: DoOptions): Promise<void> {
  const resolved = resolvePath(context.contract, words, 'state', 'post');
  const query = queryOf(resolved, [
    ['--site', 'site', options.site],
    ['--validate', 'validate', options.validate ? 'true' : undefined],
    ['--no-wait', 'wait', options.wait ? undefined : 'false'],
  ]);
  const body = operationBody(context.contract, resolved.operation, options.file, options.arg);
  const streams = options.wait && resolved.operation.answerTypes.has(NDJSON);
  const client = context.client();
  let pullId: string | undefined;
  const view: ProgressView | undefined = !streams || options.quiet ? undefined : context.stdout.isTTY ? terminalProgress(context.stdout) : plainProgress(context.stderr);
  const onEvent = (event: ProgressEvent) => {
    if (event.event === 'pull-started') pullId = String(event.id);
    view?.show(event);
  };
  try {
    const result = await interruptible(
      async (signal) => {
        const answer = await client.send('POST', resolved.path, {
          query,
          ...(body !== undefined ? { body } : {}),
          accept: streams ? `${NDJSON}, application/json;q=0.5` : 'application/json',
          long: true,
          signal,
        });
        if (answer.status >= 400) throw await client.refusedBy(answer);
        if (!String(answer.headers['content-type'] ?? '').startsWith(NDJSON)) {
          describeWrite(context, options, answer.status, answer.headers);
          let text = '';
          for await (const chunk of answer.body) text += (chunk as Buffer).toString();
          return text === '' ? undefined : (JSON.parse(text) as unknown);
        }
        const last = await followStream(answer, onEvent, signal);
        if (last === undefined) throw new UnreachableError(`the answer from ${client.url} broke off before the operation ended`);
        return last;
      },
      () => `interrupted${pullId ? `: pull ${pullId} stops at Berth, as nobody waits for it (berth show state image-registry pulls ${pullId})` : ''}`,
    );
    // The bars end before anything else is written under them.
    view?.stop();
    const errors = (result as { errors?: Array<{ 'error-message'?: string }> } | undefined)?.errors;
    if (Array.isArray(errors)) {
      throw new RefusedError(`the operation failed: ${errors[0]?.['error-message'] ?? 'no message'}`, render(result, 'yaml').trimEnd());
    }
    print(context, options, result);
  } finally {
    view?.stop();
  }
}
