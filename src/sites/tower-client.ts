// A site's client for its control tower: follows the change feed (streamed, or long-polled from a tower that does not
// stream), reads the snapshot and sends its report with the site's token, over one keep-alive connection (transport's,
// as the tower's to its sites: TLS checked against BERTH_TOWER_CACERT when given, a dropped bodiless request sent again).
import { loadUndici } from '../http/undici.js';
import { Lazy } from '../lazy.js';
import { KeepAliveConnection } from '../transport/index.js';
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
  /** The tower holds no report from this site on its desired images. */
  'report-wanted'?: boolean;
}

export interface TowerSnapshot {
  revision: number;
  entries: { key: string; value: StoredValue }[];
  'report-wanted'?: boolean;
}

const CONNECT_TIMEOUT_MS = 5_000;
/** Beyond the long-poll wait: time for the tower to answer once it stops waiting. */
const ANSWER_MARGIN_MS = 15_000;

/** A tower answer that is not what the contract says; the site applies nothing of it. */
export class TowerAnswerError extends Error {}

/** The message of an error body of ours, or the start of whatever else came. */
function errorMessageOf(text: string): string {
  try {
    return String((JSON.parse(text) as { errors?: { 'error-message'?: string }[] }).errors?.[0]?.['error-message'] ?? text.slice(0, 300));
  } catch {
    return text.slice(0, 300);
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TowerAnswerError(`the tower's answer to ${what} is not JSON`);
  }
}

export class TowerClient {
  /** Made at the first request (undici loads then). */
  private readonly connection = new Lazy<KeepAliveConnection>(() =>
    loadUndici().then(
      ({ Agent }) =>
        new KeepAliveConnection(Agent, {
          url: this.settings.url,
          ...(this.settings.caCertPem ? { caCertPem: this.settings.caCertPem } : {}),
          connectTimeoutMs: CONNECT_TIMEOUT_MS,
          headersTimeoutMs: this.maxWaitSeconds * 1000 + ANSWER_MARGIN_MS,
          bodyTimeoutMs: this.maxWaitSeconds * 1000 + ANSWER_MARGIN_MS,
          keepAliveTimeoutMs: 60_000,
          connections: 2,
        }),
    ),
  );
  private readonly isFeedPage = schemaValidator('ChangeFeedAnswer');
  private readonly isSnapshot = schemaValidator('ConfigSnapshotAnswer');

  constructor(
    private readonly settings: TowerSettings,
    /** This site's name, as it reads the feed. */
    readonly siteName: string,
    /** The longest long-poll wait this client asks for. */
    private readonly maxWaitSeconds: number,
  ) {}

  private open(): Promise<KeepAliveConnection> {
    return this.connection.get();
  }

  get url(): string {
    return this.settings.url;
  }

  private async get(path: string, signal: AbortSignal | undefined): Promise<unknown> {
    return this.call('GET', path, undefined, signal);
  }

  private async call(method: 'GET' | 'POST', path: string, body: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    const response = await (await this.open()).request({
      path,
      method,
      headers: {
        authorization: `Bearer ${this.settings.token}`,
        accept: 'application/json',
        'user-agent': `berth-site/${this.siteName}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
    const text = await response.body.text();
    if (response.statusCode === 204) return undefined;
    if (response.statusCode !== 200) throw new TowerAnswerError(`the tower answered ${response.statusCode} to ${method} ${path.split('?')[0]}: ${errorMessageOf(text)}`);
    return parseJson(text, `${method} ${path.split('?')[0]}`);
  }

  /**
   * Follows the change feed from `after` as a stream: `onPage` gets each page as the tower sends it (a change as soon
   * as it is committed, an empty page every `waitSeconds`). Resolves when the tower ends the stream. A tower that
   * answers one page (no stream) is answered the same way, one page.
   */
  async follow(after: number, waitSeconds: number, onPage: (page: TowerFeedPage) => Promise<void>, signal?: AbortSignal): Promise<void> {
    const query = new URLSearchParams({ after: String(after), wait: String(waitSeconds), 'site-name': this.siteName });
    const path = `/v1/state/system/changes?${query}`;
    const response = await (await this.open()).request({
      path,
      method: 'GET',
      headers: { authorization: `Bearer ${this.settings.token}`, accept: 'application/x-ndjson, application/json;q=0.5', 'user-agent': `berth-site/${this.siteName}` },
      ...(signal ? { signal } : {}),
    });
    if (response.statusCode !== 200 || !String(response.headers['content-type'] ?? '').startsWith('application/x-ndjson')) {
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new TowerAnswerError(`the tower answered ${response.statusCode} to GET /v1/state/system/changes: ${errorMessageOf(text)}`);
      return onPage(this.feedPage(parseJson(text, 'GET /v1/state/system/changes')));
    }
    let pending = '';
    for await (const chunk of response.body) {
      pending += (chunk as Buffer).toString('utf8');
      for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        if (line.trim() !== '') await onPage(this.feedPage(parseJson(line, 'GET /v1/state/system/changes')));
      }
    }
  }

  private feedPage(page: unknown): TowerFeedPage {
    if (!this.isFeedPage(page)) throw new TowerAnswerError(`the tower's change feed answer does not match the contract: ${JSON.stringify(describeAjvErrors(this.isFeedPage.errors))}`);
    return page as TowerFeedPage;
  }

  async snapshot(signal?: AbortSignal): Promise<TowerSnapshot> {
    const query = new URLSearchParams({ 'site-name': this.siteName });
    const snapshot = await this.get(`/v1/state/system/snapshot?${query}`, signal);
    if (!this.isSnapshot(snapshot)) throw new TowerAnswerError(`the tower's snapshot does not match the contract: ${JSON.stringify(describeAjvErrors(this.isSnapshot.errors))}`);
    return snapshot as TowerSnapshot;
  }

  /** Sends this site's report on its desired images. */
  async report(report: unknown): Promise<void> {
    const query = new URLSearchParams({ 'site-name': this.siteName });
    await this.call('POST', `/v1/state/system/site-report?${query}`, report, undefined);
  }

  async close(): Promise<void> {
    // Destroyed, not closed: a follow of the feed under way would hold a close for its whole wait.
    await (await this.connection.made())?.destroy().catch(() => {});
  }
}
