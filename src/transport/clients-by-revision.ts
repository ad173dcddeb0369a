// One client per configuration revision of each remote Berth talks to (a remote registry, a site): every caller
// shares it, with its keep-alive connections, while the configuration stays; a new revision gets a new client and
// the old one is closed once its requests are done.

/** What a cached client must offer: closing it when its configuration is replaced, or at the end. */
export interface Closable {
  close(): Promise<void>;
}

export class ClientsByRevision<C extends Closable> {
  private readonly clients = new Map<string, { revision: number; client: C }>();

  /** The client of `key` for configuration `revision`, made by `make` when there is none for that revision yet. */
  get(key: string, revision: number, make: () => C): C {
    const cached = this.clients.get(key);
    if (cached?.revision === revision) return cached.client;
    cached?.client.close().catch(() => {});
    const client = make();
    this.clients.set(key, { revision, client });
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map(({ client }) => client.close().catch(() => {})));
    this.clients.clear();
  }
}
