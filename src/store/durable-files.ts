// Making the creation of files and directories survive losing the machine, not just the process: a new name is
// only durable once the directory holding it is fsync'd (a file's own fsync does not cover its directory entry).
// A new SQLite database file needs nothing more: SQLite fsyncs the directory when it creates the WAL, before the
// first commit returns, and that covers the database file's name in the same directory (checked with crashfs).
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** fsync a directory so a create, rename or unlink inside it survives a crash. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function syncDirectorySync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `mkdir -p`, then fsync the parent of every directory it created, so the whole new path is durable. */
export function makeDirectoryDurably(path: string): void {
  const first = mkdirSync(path, { recursive: true });
  if (first === undefined) return;
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    syncDirectorySync(dirname(dir));
    if (dir === resolve(first)) break;
  }
}
