// Blob upload sessions of the /v2 protocol: a session id bound to a repository and a BlobWriter, kept in memory.
// Sessions idle longer than the timeout are aborted; none survive a restart (see FilesystemBlobStore's header).
import type { DigestAlgorithm } from './digest.js';
import { RegistryError } from './registry-error.js';
import type { BlobStore, BlobWriter } from './storage/blob-store.js';

export interface UploadSession {
  id: string;
  repository: string;
  writer: BlobWriter;
  startedAt: Date;
}

export class UploadSessions {
  private readonly sessions = new Map<string, UploadSession>();

  constructor(private readonly store: BlobStore, private readonly idleTimeoutMs: number) {}

  /** Sessions open now. */
  get open(): number {
    return this.sessions.size;
  }

  async start(repository: string, algorithm?: DigestAlgorithm): Promise<UploadSession> {
    // Expiring here bounds abandoned sessions without a timer to manage.
    await this.expireIdle();
    const writer = await this.store.openWriter(algorithm ? { algorithm } : {});
    const session: UploadSession = { id: writer.id, repository, writer, startedAt: new Date() };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The session, if it exists and belongs to `repository`; BLOB_UPLOAD_UNKNOWN (404) otherwise. */
  get(repository: string, id: string): UploadSession {
    const session = this.sessions.get(id);
    if (!session || session.repository !== repository) {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { session: id.slice(0, 100) });
    }
    return session;
  }

  /** Forgets a session whose writer was committed or aborted. */
  forget(id: string): void {
    this.sessions.delete(id);
  }

  async cancel(repository: string, id: string): Promise<void> {
    const session = this.get(repository, id);
    this.sessions.delete(id);
    await session.writer.abort();
  }

  /** Aborts sessions that received nothing for longer than the idle timeout; returns how many. */
  async expireIdle(now = Date.now()): Promise<number> {
    const idle = [...this.sessions.values()].filter((s) => now - s.writer.lastActivity.getTime() > this.idleTimeoutMs);
    for (const session of idle) {
      this.sessions.delete(session.id);
      await session.writer.abort();
    }
    return idle.length;
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.writer.abort()));
  }
}
