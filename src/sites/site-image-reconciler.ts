// At a site: holds the desired images meant for it, on its own. It reads the replicated desired-images entries and its
// own labels (replicated-keys.ts) from this site's store, so it works the same with the tower reachable or not; it
// pulls what is missing through the pull machinery as tracked pull operations (pull-by-reference.ts; they show in
// /v1/state/image-registry/pulls), a few at a time, gives a pull up when its image is no longer desired, retries a
// failed image with backoff without holding up the others, resolves tags again when an entry changes and every
// `resolveIntervalMs`, and tells the site registry to keep every desired image from deletion. State is in memory:
// after a restart an image found in the site registry is ready at once and its tag is resolved again.
import type { Logger } from 'pino';
import { isBerthError } from '../errors.js';
import { PullStoppedError, type PullByReference } from '../image-registry/pull/pull-by-reference.js';
import type { PullTarget } from '../image-registry/pull/pull-request.js';
import { hostPlatform, matchesPlatform, parsePlatform } from '../image-registry/pull/platform.js';
import type { RetainedImage, SiteRegistry } from '../registry/index.js';
import type { ConfigStore, StoreChange } from '../store/config-store.js';
import { OWN_SITE_KEY, ownSiteView } from './replicated-keys.js';
import { matches, parseSelector } from './selector.js';
import { configDigest, formatTarget, SITE_IMAGES_PREFIX, targetOf, type DesiredImage, type SiteImages } from './site-images.js';

export type DesiredImageStateName = 'pending' | 'pulling' | 'ready' | 'failed';

/** One image at this site, as the contract's DesiredImageState. */
export interface DesiredImageState {
  image: string;
  platform?: string;
  target: string;
  state: DesiredImageStateName;
  digest?: string;
  bytes?: number;
  'last-error'?: string;
  attempts: number;
  'next-attempt'?: string;
  updated: string;
}

/** One entry that selects this site: the digest of its configuration as acted on, and its images. */
export interface SelectedEntry {
  name: string;
  'config-digest': string;
  images: DesiredImageState[];
}

export interface ReconcilerOptions {
  /** Tags are resolved again this often; 0: only when their entry changes (BERTH_SITE_IMAGES_RESOLVE_INTERVAL). */
  resolveIntervalMs: number;
  /** Wait after a first failure; doubled per further failure up to retryMaxMs. */
  retryMinMs: number;
  retryMaxMs: number;
  /** Images pulled at once (each pull also keeps to its registry's download limit). */
  concurrency: number;
}

export const DEFAULT_RECONCILER_OPTIONS: ReconcilerOptions = { resolveIntervalMs: 15 * 60_000, retryMinMs: 2_000, retryMaxMs: 5 * 60_000, concurrency: 3 };

const REMOTE_REGISTRIES_PREFIX = 'config/image-registry/remote-registries/';

interface Desired {
  entry: string;
  image: DesiredImage;
  target: PullTarget;
  state: DesiredImageStateName;
  digest?: string;
  bytes?: number;
  lastError?: string;
  attempts: number;
  updated: Date;
  /** When the next pull is due: a retry after a failure, or resolving a tag again. Undefined: none planned. */
  dueAt: number | undefined;
  running: boolean;
  /** Gives up its pull when the image is no longer desired here (the pull stops unless others wait for it). */
  abandon: AbortController;
}

const platformOf = (image: DesiredImage) => (image['all-platforms'] ? 'all' : image.platform);
/** Identifies a desired image: its entry and everything that decides what lands where. */
const keyOf = (entry: string, image: DesiredImage) => JSON.stringify([entry, image.image, platformOf(image) ?? null, image.to ?? null]);

export class SiteImageReconciler {
  private desired = new Map<string, Desired>();
  private selected: { name: string; digest: string; keys: string[] }[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private evaluating: Promise<void> | undefined;
  private evaluateAgain = false;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly store: ConfigStore,
    private readonly siteName: string,
    private readonly pull: PullByReference,
    private readonly registry: SiteRegistry,
    private readonly logger: Logger,
    private readonly options: ReconcilerOptions,
    /** Called whenever what report() returns may have changed. */
    private readonly changed: () => void,
  ) {}

  async start(): Promise<void> {
    const from = await this.store.revision();
    this.unsubscribe = await this.store.watch(from, (change) => this.onChange(change));
    this.evaluate();
  }

  private onChange(change: StoreChange): void {
    if (change.key.startsWith(REMOTE_REGISTRIES_PREFIX)) {
      // A registry's configuration changed (credentials, address): what failed may work now.
      for (const d of this.desired.values()) if (d.state === 'failed') d.dueAt = Date.now();
      this.pump();
    }
    if (change.key.startsWith(SITE_IMAGES_PREFIX) || change.key === OWN_SITE_KEY) this.evaluate();
  }

  /** Works out again which images are desired here; one evaluation at a time, the last request always served. */
  private evaluate(): void {
    if (this.evaluating) {
      this.evaluateAgain = true;
      return;
    }
    this.evaluating = this.evaluateNow()
      .catch((e: unknown) => this.logger.error({ err: e }, 'cannot work out the desired images of this site'))
      .finally(() => {
        this.evaluating = undefined;
        if (this.evaluateAgain && !this.stopped) {
          this.evaluateAgain = false;
          this.evaluate();
        }
      });
  }

  private async evaluateNow(): Promise<void> {
    const own = await this.store.get(OWN_SITE_KEY);
    const site = { name: this.siteName, labels: ownSiteView(own?.value)?.labels };
    const entries = (await this.store.list(SITE_IMAGES_PREFIX)).map((e) => e.value as SiteImages);
    const next = new Map<string, Desired>();
    const selected: typeof this.selected = [];
    const now = Date.now();
    for (const entry of entries) {
      let chosen: boolean;
      try {
        chosen = matches(parseSelector(entry.sites), site);
      } catch {
        // The tower checked it; one that does not parse here (a newer grammar) selects nothing rather than all.
        this.logger.warn({ entry: entry.name, sites: entry.sites }, 'desired images: a selector this site cannot read');
        continue;
      }
      if (!chosen) continue;
      const digest = configDigest(entry);
      const previous = this.selected.find((s) => s.name === entry.name);
      const keys: string[] = [];
      for (const image of entry.images) {
        const key = keyOf(entry.name, image);
        keys.push(key);
        const existing = this.desired.get(key);
        if (existing) {
          // The entry changed: tags are resolved again now (the image stays ready meanwhile).
          if (previous && previous.digest !== digest && existing.state === 'ready' && existing.target.tag !== undefined) existing.dueAt = now;
          next.set(key, existing);
          continue;
        }
        next.set(key, this.newDesired(entry.name, image, now));
      }
      selected.push({ name: entry.name, digest, keys });
    }
    for (const [key, d] of this.desired) {
      if (next.has(key)) continue;
      d.abandon.abort();
      this.logger.info({ entry: d.entry, image: d.image.image }, 'no longer desired at this site: kept, but deletable');
    }
    this.desired = next;
    this.selected = selected;
    this.registry.retain(this.retainedImages());
    this.changed();
    this.pump();
  }

  /** A newly desired image: ready at once when the site registry already holds it (its tag is then resolved again). */
  private newDesired(entry: string, image: DesiredImage, now: number): Desired {
    let target: PullTarget;
    try {
      target = targetOf(image);
    } catch (e) {
      // The tower checked it; fail this image alone rather than the others.
      const message = isBerthError(e) ? e.message : String(e);
      return { entry, image, target: { repository: '' }, state: 'failed', lastError: message, attempts: 1, updated: new Date(now), dueAt: undefined, running: false, abandon: new AbortController() };
    }
    const held = this.heldLocally(image, target);
    const fresh = { entry, image, target, attempts: 0, updated: new Date(now), running: false, abandon: new AbortController() };
    if (held) return { ...fresh, state: 'ready', digest: held.digest, bytes: held.size, dueAt: target.tag !== undefined ? now : undefined };
    return { ...fresh, state: 'pending', dueAt: now };
  }

  /** What the site registry holds at the image's target, when it is the image asked for (digest and platform). */
  private heldLocally(image: DesiredImage, target: PullTarget): { digest: string; size: number } | undefined {
    const wantedDigest = image.image.includes('@') ? image.image.slice(image.image.lastIndexOf('@') + 1) : undefined;
    const summary = this.registry.imageSummary(target.repository, target.tag ?? wantedDigest ?? '');
    if (!summary) return undefined;
    if (wantedDigest && summary.digest !== wantedDigest && summary.sourceIndexDigest !== wantedDigest) return undefined;
    if (!image['all-platforms']) {
      const choice = image.platform !== undefined ? parsePlatform(image.platform) : hostPlatform();
      const held = summary.platforms.map((p) => {
        const [os = '', architecture = '', variant] = p.split('/');
        return { os, architecture, ...(variant ? { variant } : {}) };
      });
      if (!held.some((p) => matchesPlatform(p, choice))) return undefined;
    }
    return { digest: summary.digest, size: summary.size };
  }

  private retainedImages(): RetainedImage[] {
    return [...this.desired.values()]
      .filter((d) => d.target.repository !== '')
      .map((d) => ({
        repository: d.target.repository,
        ...(d.target.tag !== undefined ? { tag: d.target.tag } : { digest: d.digest ?? '' }),
        by: `site-images '${d.entry}'`,
      }));
  }

  /** Starts the pulls that are due, up to the concurrency; plans a wake-up for the next one due later. */
  private pump(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const now = Date.now();
    let nextDue = Infinity;
    for (const d of this.desired.values()) {
      if (d.running || d.dueAt === undefined) continue;
      if (d.dueAt > now) {
        nextDue = Math.min(nextDue, d.dueAt);
        continue;
      }
      if (this.running >= this.options.concurrency) break;
      void this.work(d);
    }
    if (nextDue !== Infinity) this.timer = setTimeout(() => this.pump(), Math.max(0, nextDue - now)).unref();
  }

  private async work(d: Desired): Promise<void> {
    d.running = true;
    d.dueAt = undefined;
    this.running++;
    if (d.state !== 'ready') {
      d.state = 'pulling';
      d.updated = new Date();
      this.changed();
    }
    try {
      const outcome = await this.pull(d.image, d.abandon.signal);
      const summary = this.registry.imageSummary(d.target.repository, d.target.tag ?? outcome.digest);
      Object.assign(d, { state: 'ready', digest: outcome.digest, attempts: 0, updated: new Date() });
      if (summary) d.bytes = summary.size;
      delete d.lastError;
      if (d.target.tag !== undefined && this.options.resolveIntervalMs > 0) d.dueAt = Date.now() + this.options.resolveIntervalMs;
      this.logger.info({ entry: d.entry, image: d.image.image, digest: outcome.digest }, 'desired image ready');
    } catch (e) {
      // Given up: no longer desired here, or this Berth is stopping. Nothing failed.
      if (d.abandon.signal.aborted) return this.settle(d);
      const message = isBerthError(e) || e instanceof PullStoppedError ? e.message : `internal error: ${(e as Error).message}`;
      if (!isBerthError(e) && !(e instanceof PullStoppedError)) this.logger.error({ err: e, entry: d.entry, image: d.image.image }, 'desired image: unexpected error');
      d.attempts++;
      d.lastError = message;
      const held = this.heldLocally(d.image, d.target);
      // What the site holds stays ready when its tag cannot be resolved again (the registry is away, say).
      if (held) Object.assign(d, { state: 'ready', digest: held.digest, bytes: held.size });
      else d.state = 'failed';
      d.updated = new Date();
      d.dueAt = Date.now() + Math.min(this.options.retryMaxMs, this.options.retryMinMs * 2 ** (d.attempts - 1) * (0.8 + Math.random() * 0.4));
      this.logger.warn({ entry: d.entry, image: d.image.image, attempts: d.attempts, error: message }, held ? 'desired image: could not resolve its tag again' : 'desired image: pull failed');
    }
    this.settle(d);
  }

  /** A pull of `d` ended: its place is free for the next, and what changed is kept and told. */
  private settle(d: Desired): void {
    d.running = false;
    this.running--;
    // Dropped while it was pulled: nothing to report, nothing to keep (the next evaluation released it).
    if (this.desired.get(keyOf(d.entry, d.image)) === d) {
      this.registry.retain(this.retainedImages());
      this.changed();
    }
    this.pump();
  }

  private stateOf(d: Desired): DesiredImageState {
    const platform = platformOf(d.image);
    return {
      image: d.image.image,
      ...(platform !== undefined ? { platform } : {}),
      target: formatTarget(d.target, d.digest),
      state: d.state,
      ...(d.digest !== undefined ? { digest: d.digest } : {}),
      ...(d.bytes !== undefined ? { bytes: d.bytes } : {}),
      ...(d.lastError !== undefined ? { 'last-error': d.lastError } : {}),
      attempts: d.attempts,
      ...(d.state === 'failed' && d.dueAt !== undefined ? { 'next-attempt': new Date(d.dueAt).toISOString() } : {}),
      updated: d.updated.toISOString(),
    };
  }

  /** Every entry that selects this site, with the state of each of its images. */
  report(): SelectedEntry[] {
    return this.selected.map((s) => ({
      name: s.name,
      'config-digest': s.digest,
      images: s.keys.flatMap((key) => {
        const d = this.desired.get(key);
        return d ? [this.stateOf(d)] : [];
      }),
    }));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.unsubscribe?.();
    for (const d of this.desired.values()) d.abandon.abort();
  }
}
