// Files on disk as tests inspect them after a crash: every regular file under a directory.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under `dir`, recursively; none when `dir` does not exist. */
export function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}
