// A pull's progress stream as a person sees it: on a terminal one bar per blob (bytes, rate, ETA) drawn by
// cli-progress; otherwise plain lines on stderr, a few per blob, fit for a log.
import { MultiBar, type SingleBar } from 'cli-progress';

/** One line of the stream (the contract's PullProgressEvent). */
export type ProgressEvent = Record<string, unknown> & { event: string };

export interface ProgressView {
  show(event: ProgressEvent): void;
  /** Ends the display (the bars stay on screen as they are). */
  stop(): void;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `sha256:0123456789ab`: as much of a digest as a person compares. */
const shortDigest = (digest: unknown) => String(digest).slice(0, 'sha256:'.length + 12);
const kindOf = (mediaType: unknown) => (/config/.test(String(mediaType)) ? 'config' : 'layer ');
const numberOf = (value: unknown) => (typeof value === 'number' ? value : 0);

/** Bytes a second over the last few seconds of one blob's samples. */
class RateWindow {
  private readonly samples: Array<{ at: number; bytes: number }> = [];

  add(bytes: number, at = Date.now()): number {
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && at - this.samples[0]!.at > 3_000) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (at - first.at) / 1000;
    return seconds > 0 ? Math.max(0, (bytes - first.bytes) / seconds) : 0;
  }
}

/** The first line of a pull's progress, on a terminal and in a log alike. */
const startedLine = (event: ProgressEvent) =>
  `pull ${String(event.id)}: ${String(event.registry)}/${String(event.image)} (platform ${String(event.platform)}) to ${String(event.target)}`;

export function terminalProgress(stream: NodeJS.WriteStream): ProgressView {
  const multibar = new MultiBar({
    format: ' {kind} {digest} {bar} {done} / {size}  {rate}  ETA {eta_formatted}',
    barCompleteChar: '#',
    barIncompleteChar: '-',
    barsize: 30,
    hideCursor: true,
    stream,
    fps: 8,
    etaBuffer: 30,
    autopadding: true,
    linewrap: false,
  });
  const bars = new Map<string, { bar: SingleBar; rate: RateWindow }>();
  let stopped = false;
  return {
    show(event) {
      const digest = String(event.digest);
      const total = numberOf(event['bytes-total']);
      switch (event.event) {
        case 'pull-started':
          // Above the bars, written before the first of them is drawn.
          if (bars.size === 0) stream.write(`${startedLine(event)}\n`);
          break;
        case 'layer-started':
          if (!bars.has(digest)) {
            const bar = multibar.create(Math.max(total, 1), 0, { kind: kindOf(event['media-type']), digest: shortDigest(digest), done: formatBytes(0), size: formatBytes(total), rate: '' });
            bars.set(digest, { bar, rate: new RateWindow() });
          }
          break;
        case 'bytes': {
          const entry = bars.get(digest);
          const done = numberOf(event['bytes-done']);
          entry?.bar.update(done, { done: formatBytes(done), rate: `${formatBytes(entry.rate.add(done))}/s` });
          break;
        }
        case 'layer-done':
          bars.get(digest)?.bar.update(Math.max(total, 1), { done: formatBytes(total), rate: event.fetched ? 'done' : 'already there' });
          break;
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      multibar.stop();
    },
  };
}

export function plainProgress(stream: NodeJS.WritableStream): ProgressView {
  const lastLine = new Map<string, number>();
  const say = (text: string) => stream.write(`${text}\n`);
  return {
    show(event) {
      const what = `${kindOf(event['media-type']).trim()} ${shortDigest(event.digest)}`;
      switch (event.event) {
        case 'pull-started':
          say(startedLine(event));
          break;
        case 'layer-started':
          say(`${what}: ${formatBytes(numberOf(event['bytes-total']))} needed`);
          break;
        case 'bytes': {
          // At most one line a second per blob: a log, not a film.
          const now = Date.now();
          if (now - (lastLine.get(String(event.digest)) ?? 0) < 1_000) break;
          lastLine.set(String(event.digest), now);
          const done = numberOf(event['bytes-done']);
          const total = numberOf(event['bytes-total']);
          say(`blob ${shortDigest(event.digest)}: ${formatBytes(done)} of ${formatBytes(total)} (${total > 0 ? Math.floor((done / total) * 100) : 100}%)`);
          break;
        }
        case 'layer-done':
          say(`blob ${shortDigest(event.digest)}: done, ${event.fetched ? `${formatBytes(numberOf(event['bytes-total']))} fetched` : 'already there'}`);
          break;
        case 'manifest-stored':
          say(`stored ${String(event.name)} (${String(event.digest)})`);
          break;
      }
    },
    stop: () => {},
  };
}
