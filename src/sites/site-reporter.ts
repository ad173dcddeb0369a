// At a site: tells the control tower the state of its desired images (POST /v1/state/system/site-report) when it
// changes and whenever the tower asks (its change feed answers `report-wanted` when it holds no report from this
// site, as after a tower restart). One report at a time, the newest state; retried with backoff while the tower is away.
import type { Logger } from 'pino';
import type { SelectedEntry } from './site-image-reconciler.js';
import type { TowerClient } from './tower-client.js';

/** Changes within this long go out as one report (a pull moves several images at once). */
const COALESCE_MS = 200;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

export class SiteReporter {
  private lastSent: string | undefined;
  private wanted = false;
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly tower: TowerClient,
    private readonly state: () => SelectedEntry[],
    private readonly logger: Logger,
  ) {}

  /** The desired images' state may have changed. */
  changed(): void {
    this.schedule(COALESCE_MS);
  }

  /** The tower holds no report from this site. */
  towerWants(): void {
    this.wanted = true;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped || this.timer || this.sending) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, ms).unref();
  }

  private async send(): Promise<void> {
    const report = { 'site-images': this.state() };
    const body = JSON.stringify(report);
    if (!this.wanted && body === this.lastSent) return;
    this.sending = true;
    try {
      await this.tower.report(report);
      this.lastSent = body;
      this.wanted = false;
      this.failures = 0;
    } catch (e) {
      this.failures++;
      if (this.failures === 1) this.logger.warn({ error: (e as Error).message }, 'cannot report the desired images to the control tower; retrying');
      this.sending = false;
      return this.schedule(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.failures - 1)));
    }
    this.sending = false;
    // Something changed while this report was on its way: send the newer state too.
    if (JSON.stringify({ 'site-images': this.state() }) !== this.lastSent) this.schedule(COALESCE_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
