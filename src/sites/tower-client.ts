// A site's client for its control tower: reads the change feed (long-polled) and the snapshot with the site's
// token, over one keep-alive connection pool (TLS checked against BERTH_TOWER_CACERT when given).
import type { Pool } from 'undici';
import { loadUndici } from '../http/undici.js';
import { schemaValidator, describeAjvErrors } from '../contract/openapi.js';
import type { StoreChange, StoredValue } from '../store/config-store.js';

export interface TowerSettings {
  /** BERTH_TOWER_URL, without a trailing `/`. */
  url: string;
  /** BERTH_TOWER_TOKEN: the bearer token this site presents to the tower. */
  token: string;
  /** BERTH_TOWER_CACERT: PEM of the CA to trust for an https tower. */
  caCertPem?: string;
}

export interface TowerFeedPage {
  revision: number;
  'current-revision': number;
  changes: StoreChange[];
}

export interface TowerSnapshot {
  revision: number;
  entries: { key: string; value: StoredValue }[];
}

const CONNECT_TIMEOUT_MS = 5_000;
/** Beyond the long-poll wait: time for the tower to answer once it stops waiting. */
const ANSWER_MARGIN_MS = 15_000;

/** A tower answer that is not what the contract says; the site applies nothing of it. */
export class TowerAnswerError extends Error {}

export class TowerClient {
  /** Made at the first request (undici loads then). */
  private pool: Promise<Pool> | undefined;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly isFeedPage = schemaValidator('ChangeFeedAnswer');
  private readonly isSnapshot = schemaValidator('ConfigSnapshotAnswer');

  constructor(
    private readonly settings: TowerSettings,
    private readonly siteName: string,
    /** The longest long-poll wait this client asks for. */
    private readonly maxWaitSeconds: number,
  ) {
    const url = new URL(settings.url);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
  }

  private open(): Promise<Pool> {
    this.pool ??= loadUndici().then(
      ({ Pool }) =>
        new Pool(this.origin, {
          connect: { timeout: CONNECT_TIMEOUT_MS, ...(this.settings.caCertPem ? { ca: this.settings.caCertPem } : {}) },
          headersTimeout: this.maxWaitSeconds * 1000 + ANSWER_MARGIN_MS,
          bodyTimeout: this.maxWaitSeconds * 1000 + ANSWER_MARGIN_MS,
          keepAliveTimeout: 60_000,
          connections: 2,
        }),
    );
    return this.pool;
  }

  get url(): string {
    return this.settings.url;
  }

  private async get(path: string, signal: AbortSignal | undefined): Promise<unknown> {
    const response = await (await this.open()).request({
      path: `${this.basePath}${path}`,
      method: 'GET',
      headers: { authorization: `Bearer ${this.settings.token}`, accept: 'application/json', 'user-agent': `berth-site/${this.siteName}` },
      ...(signal ? { signal } : {}),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) {
      let message = text.slice(0, 300);
      try {
        message = String((JSON.parse(text) as { errors?: { 'error-message'?: string }[] }).errors?.[0]?.['error-message'] ?? message);
      } catch {
        // Not an error body of ours: show its start.
      }
      throw new TowerAnswerError(`the tower answered ${response.statusCode} to GET ${path.split('?')[0]}: ${message}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new TowerAnswerError(`the tower's answer to GET ${path.split('?')[0]} is not JSON`);
    }
  }

  async changes(after: number, waitSeconds: number, signal?: AbortSignal): Promise<TowerFeedPage> {
    const query = new URLSearchParams({ after: String(after), wait: String(waitSeconds), 'site-name': this.siteName });
    const page = await this.get(`/v1/state/system/changes?${query}`, signal);
    if (!this.isFeedPage(page)) throw new TowerAnswerError(`the tower's change feed answer does not match the contract: ${JSON.stringify(describeAjvErrors(this.isFeedPage.errors))}`);
    return page as TowerFeedPage;
  }

  async snapshot(signal?: AbortSignal): Promise<TowerSnapshot> {
    const query = new URLSearchParams({ 'site-name': this.siteName });
    const snapshot = await this.get(`/v1/state/system/snapshot?${query}`, signal);
    if (!this.isSnapshot(snapshot)) throw new TowerAnswerError(`the tower's snapshot does not match the contract: ${JSON.stringify(describeAjvErrors(this.isSnapshot.errors))}`);
    return snapshot as TowerSnapshot;
  }

  async close(): Promise<void> {
    await (await this.pool)?.destroy().catch(() => {});
  }
}
