// Byte ranges in both directions: the `Range` request header of a blob download (RFC 9110, single range) and
// the `Content-Range` of an upload chunk (the spec's `<start>-<end>`, leniently also `bytes <start>-<end>/<total>`).
import type { ByteRange } from '../storage/blob-store.js';
import type { ChunkPosition } from '../repository-blobs.js';

/**
 * The range to serve of a blob of `size` bytes: undefined to serve it whole (no header, several ranges, or a
 * header RFC 9110 says to ignore), 'unsatisfiable' for a 416, else an inclusive range.
 */
export function parseRangeHeader(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return undefined;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** The position an upload chunk claims, or 'invalid' (a 416 per the spec); undefined without a header. */
export function parseContentRange(header: string | undefined): ChunkPosition | 'invalid' | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const match = /^\s*(?:bytes[ =])?\s*(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/i.exec(header);
  if (!match) return 'invalid';
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return 'invalid';
  return { start, end };
}

/** The `Range` an upload reports: inclusive end of what it holds, `0-0` when empty (as CNCF distribution does). */
export const uploadRangeHeader = (offset: number): string => `0-${Math.max(offset - 1, 0)}`;
