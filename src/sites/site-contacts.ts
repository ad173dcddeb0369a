// What the control tower knows of each site from the site's own calls to the change feed: when it last called,
// whether a call is open now, and which tower revision it had applied. Kept in memory only: writing it to the
// store would itself be a change to replicate, and a site calls again within seconds of a tower restart.

/** After a feed call ends, the site still counts as connected this long (it calls again at once normally). */
export const CONNECTED_GRACE_MS = 5_000;

export interface SiteContact {
  connected: boolean;
  lastContact: Date;
  /** The tower revision the site had applied when it last called. */
  replicatedRevision: number;
}

interface ContactRecord {
  lastContact: Date;
  replicatedRevision: number;
  openCalls: number;
}

export class SiteContacts {
  private readonly records = new Map<string, ContactRecord>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records a call of `site` that reports `replicatedRevision`; the returned function marks its end. */
  begin(site: string, replicatedRevision: number): () => void {
    const record = this.records.get(site) ?? { lastContact: new Date(this.now()), replicatedRevision, openCalls: 0 };
    record.lastContact = new Date(this.now());
    record.replicatedRevision = replicatedRevision;
    record.openCalls++;
    this.records.set(site, record);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      record.openCalls--;
      record.lastContact = new Date(this.now());
    };
  }

  /** A streaming call of `site` got the pages up to `revision`. */
  progress(site: string, revision: number): void {
    const record = this.records.get(site);
    if (!record) return;
    record.lastContact = new Date(this.now());
    record.replicatedRevision = revision;
  }

  /** Records a call of `site` that says nothing of its revision (a report). */
  touch(site: string): void {
    const record = this.records.get(site);
    if (record) record.lastContact = new Date(this.now());
  }

  get(site: string): SiteContact | undefined {
    const record = this.records.get(site);
    if (!record) return undefined;
    const connected = record.openCalls > 0 || this.now() - record.lastContact.getTime() < CONNECTED_GRACE_MS;
    return { connected, lastContact: record.lastContact, replicatedRevision: record.replicatedRevision };
  }

  /** Forgets sites that are no longer configured, so the map stays as small as the sites list. */
  retain(names: ReadonlySet<string>): void {
    for (const name of this.records.keys()) if (!names.has(name)) this.records.delete(name);
  }
}
