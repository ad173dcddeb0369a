// YAML request bodies parsed off the event loop when they are large: js-yaml reads about 10 MB/s, so a body at the
// 1 MiB limit would hold every other request for a tenth of a second. Bodies past OFF_THREAD_BYTES go to one worker
// thread, one at a time; the value comes back by structured clone (aliases stay shared references, so checkShape
// still bounds what they expand to). Small bodies, most of them, are parsed in place.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import yaml from 'js-yaml';

/** Bodies up to this size parse in a few milliseconds: not worth a round trip to the worker. */
export const OFF_THREAD_BYTES = 64 * 1024;

/** Where a YAML body failed to parse, as js-yaml reports it. */
export class YamlSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(reason);
    this.name = 'YamlSyntaxError';
  }
}

type Outcome = { value: unknown } | { error: { reason: string; line?: number; column?: number } };

/** The worker's whole program: CommonJS, so it runs the same from src/ through tsx and from dist/. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const yaml = require(workerData.jsYaml);
parentPort.on('message', ({ id, text }) => {
  let outcome;
  try {
    outcome = { value: yaml.load(text, { schema: yaml.CORE_SCHEMA }) };
  } catch (e) {
    const mark = e instanceof yaml.YAMLException && e.mark ? e.mark : undefined;
    outcome = { error: { reason: e instanceof yaml.YAMLException ? e.reason : 'nested too deeply', line: mark && mark.line, column: mark && mark.column } };
  }
  parentPort.postMessage({ id, outcome });
});
`;

function parseInPlace(text: string): unknown {
  try {
    // CORE_SCHEMA: plain JSON-compatible scalars only (no timestamps or binary turning into objects).
    return yaml.load(text, { schema: yaml.CORE_SCHEMA });
  } catch (e) {
    if (e instanceof yaml.YAMLException) {
      const mark = e.mark as { line?: number; column?: number } | undefined;
      throw new YamlSyntaxError(e.reason, mark?.line, mark?.column);
    }
    throw new YamlSyntaxError('nested too deeply');
  }
}

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();

function startWorker(): Worker {
  const jsYaml = createRequire(import.meta.url).resolve('js-yaml');
  const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { jsYaml } });
  started.on('message', ({ id, outcome }: { id: number; outcome: Outcome }) => {
    const waiter = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) started.unref();
    if (!waiter) return;
    if ('value' in outcome) waiter.resolve(outcome.value);
    else waiter.reject(new YamlSyntaxError(outcome.error.reason, outcome.error.line, outcome.error.column));
  });
  const fail = (error: unknown) => {
    if (worker === started) worker = undefined;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`the YAML worker exited (${code})`)));
  return started;
}

/** Parses a YAML body; throws YamlSyntaxError for a body that is not YAML. */
export function parseYamlBody(text: string): Promise<unknown> {
  if (text.length <= OFF_THREAD_BYTES) {
    try {
      return Promise.resolve(parseInPlace(text));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  worker ??= startWorker();
  const id = nextId++;
  const running = worker;
  // Referenced only while it has work: an idle worker must not keep a stopping Berth alive.
  if (pending.size === 0) running.ref();
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    running.postMessage({ id, text });
  });
}
