// Where `berth login --sso` keeps a user's tokens: one JSON file at a path the caller chooses, readable by its owner
// only (mode 0600, created so before any token is in it), replaced whole by a rename so a reader never sees half,
// and a lock file beside it so two berth commands never spend the same refresh token (a provider that sees one
// used twice takes it for theft and revokes the whole sign-on).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

/** A signed-on session: where the tokens come from, and the tokens. */
export interface SsoSession {
  issuer: string;
  clientId: string;
  /** The resource (audience) the access token is for. */
  audience: string;
  scope: string;
  accessToken: string;
  /** When the access token stops working, by the provider's `expires_in` (ISO 8601). */
  expiresAt: string;
  refreshToken?: string;
}

export class SessionFileError extends Error {}

export function readSession(file: string): SsoSession | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SessionFileError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let session: Partial<SsoSession>;
  try {
    session = JSON.parse(text) as Partial<SsoSession>;
  } catch {
    throw new SessionFileError(`${file} is not a session file written by berth login --sso (not JSON)`);
  }
  const strings = ['issuer', 'clientId', 'audience', 'scope', 'accessToken', 'expiresAt'] as const;
  if (typeof session !== 'object' || session === null || strings.some((k) => typeof session[k] !== 'string')) {
    throw new SessionFileError(`${file} is not a session file written by berth login --sso`);
  }
  return session as SsoSession;
}

export function writeSession(file: string, session: SsoSession): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  // Created 0600 with O_EXCL: the tokens never sit in a file anyone else could open, not even for a moment.
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(session, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temporary, file);
  } catch (e) {
    rmSync(temporary, { force: true });
    throw e;
  }
}

/** Forgets the session; true when there was one. */
export function forgetSession(file: string): boolean {
  const existed = existsSync(file);
  rmSync(file, { force: true });
  return existed;
}

/** A lock older than this was left by a command that died; refreshing takes seconds. */
const STALE_LOCK_MS = 60_000;
const LOCK_WAIT_MS = 90_000;

/** Runs `work` holding `<file>.lock`, waiting for another holder to finish (or its lock to go stale). */
export async function withSessionLock<T>(file: string, work: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = lockAge(lock);
      if (age !== undefined && age > STALE_LOCK_MS) rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new SessionFileError(`${lock} is held by another berth command; remove it if none is running`);
      else await sleep(50);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

function lockAge(lock: string): number | undefined {
  try {
    return Date.now() - statSync(lock).mtimeMs;
  } catch {
    return undefined;
  }
}
