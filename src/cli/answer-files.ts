// `--write-dir`: an answer that lists files (its contract operation names the field, `x-berth-files`) written under a
// directory, each `${NAME}` of the answer's `placeholders` filled in from the environment (a token never travels in
// an answer). Paths must stay inside the directory; files are written whole (temporary file, then rename), mode 0600,
// since they may hold a token.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { CliError, EXIT, UsageError } from './cli-error.js';

interface AnswerFile {
  path: string;
  content: string;
}

const isFile = (value: unknown): value is AnswerFile =>
  typeof value === 'object' && value !== null && typeof (value as AnswerFile).path === 'string' && typeof (value as AnswerFile).content === 'string';

/** Where `path` lands under `dir`; refused when it is absolute, has `.`/`..`/empty segments, or leaves `dir`. */
function targetOf(dir: string, path: string): string {
  const segments = path.split('/');
  if (path.startsWith('/') || path.includes('\\') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new CliError(`the answer names a file '${path}' outside the directory; nothing was written`, EXIT.refused);
  }
  const target = resolve(dir, ...segments);
  if (relative(resolve(dir), target).startsWith(`..${sep}`)) throw new CliError(`the answer names a file '${path}' outside the directory; nothing was written`, EXIT.refused);
  return target;
}

/** Writes the files of `answer[field]` under `dir`; returns their paths. Nothing is written unless every file can be. */
export function writeAnswerFiles(answer: unknown, field: string, dir: string, env: NodeJS.ProcessEnv): string[] {
  const body = (answer ?? {}) as Record<string, unknown>;
  const files = Array.isArray(body[field]) ? (body[field] as unknown[]).filter(isFile) : [];
  const names = (Array.isArray(body.placeholders) ? (body.placeholders as Array<{ name?: unknown }>) : [])
    .map((p) => p.name)
    .filter((name): name is string => typeof name === 'string' && /^[A-Z][A-Z0-9_]*$/.test(name));
  const missing = names.filter((name) => files.some((f) => f.content.includes(`\${${name}}`)) && !env[name]);
  if (missing.length > 0) {
    throw new UsageError(`--write-dir: the files need ${missing.join(', ')} from the environment (see 'placeholders' in the answer); nothing was written`);
  }
  const planned = files.map((file) => ({
    target: targetOf(dir, file.path),
    content: names.reduce((text, name) => text.split(`\${${name}}`).join(env[name] ?? ''), file.content),
  }));
  for (const { target, content } of planned) {
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    const temporary = join(dirname(target), `.${Math.random().toString(36).slice(2)}.tmp`);
    writeFileSync(temporary, content, { mode: 0o600 });
    renameSync(temporary, target);
  }
  return planned.map((p) => p.target);
}
