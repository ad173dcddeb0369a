// Retention under the disk budget at this Berth: runs eviction (registry/eviction.ts) after each pull-through store,
// every `interval-seconds`, and when the site retention changes; one run at a time (a request during a run makes
// one more run after it). Keeps what it did for /v1/state/image-registry/site-retention: the last run and the last
// images evicted (in memory, since start).
import type { Logger } from 'pino';
import type { ConfigObject } from '../../config/config-object.js';
import type { EvictedImage, SiteRegistry } from '../../registry/index.js';
import type { ConfigStore } from '../../store/config-store.js';
import { anyCovers } from '../repository-pattern.js';
import { retentionMetrics } from './retention-metrics.js';
import { effectiveRetention, SITE_RETENTION_KEY, type EffectiveRetention, type SiteRetention } from './site-retention.js';

export type RetentionTrigger = 'pull-through' | 'timer' | 'configuration';

/** How many evicted images the state lists. */
const EVICTED_KEPT = 100;

export interface RetentionRun {
  time: string;
  trigger: RetentionTrigger;
  'used-bytes-before': number;
  'used-bytes-after': number;
  'evicted-images': number;
  'bytes-freed': number;
  'over-budget': boolean;
  'error-message'?: string;
}

export interface EvictedEntry {
  time: string;
  repository: string;
  digest: string;
  tags: string[];
  'last-pulled': string;
  'bytes-freed': number;
}

/** The contract's SiteRetentionState. */
export interface RetentionState {
  site: string;
  'budget-bytes'?: number;
  'interval-seconds': number;
  'keep-repositories'?: string[];
  'used-bytes': number;
  'pull-through-images': number;
  'last-run'?: RetentionRun;
  evicted: EvictedEntry[];
  'evicted-total': { images: number; 'bytes-freed': number };
}

export interface RetentionRunnerParts {
  store: ConfigStore;
  retention: ConfigObject<SiteRetention>;
  site: SiteRegistry;
  siteName: string;
  logger: Logger;
}

export class RetentionRunner {
  private running: Promise<void> | undefined;
  private again: RetentionTrigger | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private stopped = false;
  private lastRun: RetentionRun | undefined;
  private readonly evicted: EvictedEntry[] = [];
  private readonly total = { images: 0, 'bytes-freed': 0 };

  constructor(private readonly parts: RetentionRunnerParts) {}

  /** Runs on the timer and on changes of the site retention from now on. */
  async start(): Promise<void> {
    this.unwatch = await this.parts.store.watch(await this.parts.store.revision(), (change) => {
      if (change.key === SITE_RETENTION_KEY) this.request('configuration');
    });
    await this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.unwatch?.();
  }

  /** Asks for a run; returns once a run that began after this request has ended. */
  request(trigger: RetentionTrigger): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = trigger;
      return this.running.then(() => this.running ?? Promise.resolve());
    }
    this.running = this.run(trigger).finally(() => {
      this.running = undefined;
      const next = this.again;
      this.again = undefined;
      if (next) void this.request(next);
    });
    return this.running;
  }

  private async settings(): Promise<EffectiveRetention> {
    return effectiveRetention((await this.parts.retention.find())?.value, this.parts.siteName);
  }

  private async schedule(): Promise<void> {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const { intervalSeconds } = await this.settings().catch(() => ({ intervalSeconds: 60 }));
    this.timer = setTimeout(() => void this.request('timer').finally(() => this.schedule()), intervalSeconds * 1000).unref();
  }

  private async run(trigger: RetentionTrigger): Promise<void> {
    const time = new Date().toISOString();
    try {
      const settings = await this.settings();
      if (trigger === 'configuration') void this.schedule();
      if (settings.budgetBytes === undefined) return;
      const keep = settings.keepRepositories;
      const result = await this.parts.site.evictPullThrough({
        budgetBytes: settings.budgetBytes,
        keeps: (repository) => keep !== undefined && anyCovers(keep, repository),
      });
      const bytesFreed = result.evicted.reduce((n, image) => n + image.bytesFreed, 0);
      this.lastRun = {
        time,
        trigger,
        'used-bytes-before': result.usedBytesBefore,
        'used-bytes-after': result.usedBytesAfter,
        'evicted-images': result.evicted.length,
        'bytes-freed': bytesFreed,
        'over-budget': result.usedBytesAfter > settings.budgetBytes,
      };
      for (const image of result.evicted) this.remember(time, image);
      retentionMetrics.ran(trigger, result.evicted.length, bytesFreed, settings.budgetBytes);
      if (result.evicted.length > 0) {
        this.parts.logger.info(
          { trigger, evicted: result.evicted.map((i) => `${i.repository}@${i.digest}`), bytesFreed, usedBytes: result.usedBytesAfter, budgetBytes: settings.budgetBytes },
          'evicted pull-through images over the disk budget',
        );
      }
    } catch (error) {
      this.lastRun = { time, trigger, 'used-bytes-before': 0, 'used-bytes-after': 0, 'evicted-images': 0, 'bytes-freed': 0, 'over-budget': false, 'error-message': error instanceof Error ? error.message : String(error) };
      this.parts.logger.warn({ err: error, trigger }, 'eviction under the disk budget failed');
    }
  }

  private remember(time: string, image: EvictedImage): void {
    this.evicted.unshift({
      time,
      repository: image.repository,
      digest: image.digest,
      tags: image.tags,
      'last-pulled': image.lastPulledAt.toISOString(),
      'bytes-freed': image.bytesFreed,
    });
    this.evicted.length = Math.min(this.evicted.length, EVICTED_KEPT);
    this.total.images++;
    this.total['bytes-freed'] += image.bytesFreed;
  }

  async state(): Promise<RetentionState> {
    const settings = await this.settings();
    return {
      site: this.parts.siteName,
      ...(settings.budgetBytes !== undefined ? { 'budget-bytes': settings.budgetBytes } : {}),
      'interval-seconds': settings.intervalSeconds,
      ...(settings.keepRepositories !== undefined ? { 'keep-repositories': settings.keepRepositories } : {}),
      'used-bytes': (await this.parts.site.storageUsage()).bytes,
      'pull-through-images': this.parts.site.pullThroughImageCount(),
      ...(this.lastRun ? { 'last-run': this.lastRun } : {}),
      evicted: this.evicted.map((e) => ({ ...e, tags: [...e.tags] })),
      'evicted-total': { ...this.total },
    };
  }
}
