// An NDJSON answer read as it arrives (a pull's progress stream): each line parsed when its newline comes, so a test
// can see events while the work still runs, wait for a given one, or go away mid-stream.
import { assertNoSecretIn } from './secret-values.js';

export interface NdjsonStream {
  status: number;
  headers: Headers;
  /** Every line received so far, parsed. */
  readonly lines: unknown[];
  /** Reads on until a line satisfies `accept` and returns it; fails if the stream ends first. */
  until(accept: (line: unknown) => boolean, what: string): Promise<unknown>;
  /** Reads to the end and returns every line. */
  rest(): Promise<unknown[]>;
  /** The client goes away: the connection is closed mid-stream. */
  abort(): void;
}

export async function openNdjson(url: string, init: { token: string; body: unknown; headers?: Record<string, string> }): Promise<NdjsonStream> {
  const controller = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${init.token}`, 'content-type': 'application/json', accept: 'application/x-ndjson', ...init.headers },
    body: JSON.stringify(init.body),
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const lines: unknown[] = [];
  let buffered = '';
  let ended = false;

  /** Reads one chunk; false once the stream has ended. */
  const readMore = async (): Promise<boolean> => {
    if (ended) return false;
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      if (buffered.trim() !== '') throw new Error(`the stream ended inside a line: ${buffered.slice(0, 200)}`);
      return false;
    }
    buffered += decoder.decode(value, { stream: true });
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      assertNoSecretIn(line, `a line of ${url}`);
      if (line !== '') lines.push(JSON.parse(line));
    }
    return true;
  };

  return {
    status: res.status,
    headers: res.headers,
    lines,
    async until(accept, what) {
      for (let seen = 0; ; ) {
        for (; seen < lines.length; seen++) if (accept(lines[seen])) return lines[seen];
        if (!(await readMore())) throw new Error(`the stream ended before ${what}: ${JSON.stringify(lines).slice(0, 1000)}`);
      }
    },
    async rest() {
      while (await readMore());
      return lines;
    },
    abort() {
      controller.abort();
    },
  };
}
