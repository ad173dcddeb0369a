// Blob upload sessions of the /v2 protocol: a session id bound to a repository, the client that opened it and a
// BlobWriter, kept in memory. Bounded in all and per client (429 past either bound); a timer cancels sessions idle
// past the timeout and removes their bytes. An idle session holds no open file (see FilesystemBlobWriter), only a
// staging file on disk and a hash state. None survive a restart (see FilesystemBlobStore's header).
import type { DigestAlgorithm } from './digest.js';
import { RegistryError } from './registry-error.js';
import type { BlobStore, BlobWriter } from './storage/blob-store.js';

export interface UploadSession {
  id: string;
  repository: string;
  /** Who opened it (the token's name); '' for a client without one. */
  client: string;
  writer: BlobWriter;
  startedAt: Date;
}

export interface UploadSessionLimits {
  /** Sessions open at once, in all. */
  total: number;
  /** Sessions open at once for one client. */
  perClient: number;
  /** A session that receives nothing for this long is cancelled. */
  idleMs: number;
}

/** How soon a client refused for too many sessions may try again: others finish or expire meanwhile. */
const RETRY_AFTER_SECONDS = 5;

/** How often idle sessions are looked for: often enough that one outlives its timeout by at most half of it. */
const sweepInterval = (idleMs: number) => Math.min(Math.max(idleMs / 2, 1_000), 60_000);

const tooMany = (message: string, limit: number) =>
  new RegistryError('TOOMANYREQUESTS', `${message}; finish or cancel an upload, or retry later`, { limit }, 429, RETRY_AFTER_SECONDS);

export class UploadSessions {
  private readonly sessions = new Map<string, UploadSession>();
  /** Sessions per client, counting those still being opened, so concurrent starts cannot overshoot a bound. */
  private readonly perClient = new Map<string, number>();
  private opening = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly store: BlobStore, private readonly limits: UploadSessionLimits) {
    this.sweeper = setInterval(() => void this.expireIdle().catch(() => {}), sweepInterval(limits.idleMs));
    this.sweeper.unref();
  }

  /** Sessions open now (the timer's expired ones are gone from it at once). */
  get open(): number {
    return this.sessions.size;
  }

  async start(repository: string, client: string, algorithm?: DigestAlgorithm): Promise<UploadSession> {
    if (this.sessions.size + this.opening >= this.limits.total) {
      throw tooMany(`${this.limits.total} upload sessions are open, the most Berth keeps (BERTH_UPLOAD_SESSIONS)`, this.limits.total);
    }
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.limits.perClient) {
      throw tooMany(`this token has ${mine} upload sessions open, the most one token may (BERTH_UPLOAD_SESSIONS_PER_TOKEN)`, this.limits.perClient);
    }
    this.opening++;
    this.perClient.set(client, mine + 1);
    let writer: BlobWriter;
    try {
      writer = await this.store.openWriter(algorithm ? { algorithm } : {});
    } catch (error) {
      this.release(client);
      throw error;
    } finally {
      this.opening--;
    }
    const session: UploadSession = { id: writer.id, repository, client, writer, startedAt: new Date() };
    this.sessions.set(session.id, session);
    return session;
  }

  /**
   * The session, if it exists, belongs to `repository` and can still take bytes; BLOB_UPLOAD_UNKNOWN (404)
   * otherwise. A session whose writer broke (a failed disk write discarded its bytes) is forgotten here.
   */
  get(repository: string, id: string): UploadSession {
    const session = this.sessions.get(id);
    if (session && !session.writer.usable) this.forget(id);
    if (!session || session.repository !== repository || !session.writer.usable) {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { session: id.slice(0, 100) });
    }
    return session;
  }

  /** Forgets a session whose writer was committed or aborted. */
  forget(id: string): void {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    this.release(session.client);
  }

  /** Cancels the session: a request still streaming into it gets BLOB_UPLOAD_UNKNOWN at its next chunk. */
  async cancel(repository: string, id: string): Promise<void> {
    const session = this.get(repository, id);
    this.forget(id);
    await session.writer.abort();
  }

  /** Cancels sessions that received nothing for longer than the idle timeout; returns how many. */
  async expireIdle(now = Date.now()): Promise<number> {
    const idle = [...this.sessions.values()].filter((s) => now - s.writer.lastActivity.getTime() > this.limits.idleMs);
    for (const session of idle) {
      this.forget(session.id);
      await session.writer.abort();
    }
    return idle.length;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.sessions.values()];
    for (const session of all) this.forget(session.id);
    await Promise.all(all.map((s) => s.writer.abort()));
  }

  private release(client: string): void {
    const n = (this.perClient.get(client) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(client);
    else this.perClient.set(client, n);
  }
}
