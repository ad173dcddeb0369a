// Durations the way Vault reads and prints them: parseutil.ParseDurationSecond for input (a number
// of seconds, or Go duration text such as "1h30m", plus a "d" suffix), Go's Duration.String() for output.

const UNIT_SECONDS = new Map([
  ['ns', 1e-9],
  ['us', 1e-6],
  ['µs', 1e-6],
  ['ms', 1e-3],
  ['s', 1],
  ['m', 60],
  ['h', 3600],
  ['d', 86400],
]);

/**
 * The longest duration Go can hold (an int64 of nanoseconds, about 292 years). Vault refuses longer ones
 * as unparsable, and keeping to it keeps every computed expiry a valid date.
 */
const MAX_DURATION_SECONDS = 9_223_372_036;

/** Whole seconds, or undefined when the input is not a duration (or longer than Go's longest). */
export function parseDurationSeconds(input: unknown): number | undefined {
  const seconds = parseDurationText(input);
  return seconds === undefined || seconds > MAX_DURATION_SECONDS ? undefined : Math.floor(seconds);
}

function parseDurationText(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const text = input.trim();
  if (text === '') return 0;
  if (/^\d+$/.test(text)) return Number(text);
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/y;
  let total = 0;
  let index = 0;
  while (index < text.length) {
    part.lastIndex = index;
    const match = part.exec(text);
    if (!match) return undefined;
    total += Number(match[1]) * UNIT_SECONDS.get(match[2]!)!;
    index = part.lastIndex;
  }
  return total;
}

/** Go's time.Duration.String() for whole seconds: "0s", "45s", "1h0m0s", "3h25m19s". */
export function formatGoDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Go's RFC3339Nano as Vault prints timestamps: UTC, trailing zeros of the fraction removed. */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.replace(/\.(\d*?)0*Z$/, (_all, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}
