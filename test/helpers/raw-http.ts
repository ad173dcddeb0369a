// HTTP requests exactly as written, for hostile-input tests: the path is sent unnormalised (`..`, `%00`, `[`),
// headers may repeat, and the body may be any bytes, streamed without a Content-Length, or larger than any limit.
import { request, type IncomingHttpHeaders } from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent verbatim as the request target, e.g. `/v1/x/../y?fields=%00`. */
  path: string;
  /** A header given an array is sent once per value. */
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** Send the body chunked, without a Content-Length. */
  chunked?: boolean;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * Sends one request on its own connection and resolves with the answer. A server may answer before it has read
 * the whole body (a 413): the answer counts, and a write error after it is ignored.
 */
export function rawRequest(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
  const headers: Record<string, string | string[]> = { ...req.headers };
  if (body && !req.chunked && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    let answered = false;
    const outgoing = request(
      { host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent: false, timeout: 60_000 },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer to ${req.method} ${req.path.slice(0, 200)} within 60 s`)));
    outgoing.on('error', (e) => {
      if (!answered) reject(e);
    });
    if (body && req.chunked) {
      // Chunks of 64 KiB, so the server sees a stream rather than one buffer.
      for (let at = 0; at < body.length; at += 65_536) outgoing.write(body.subarray(at, at + 65_536));
      outgoing.end();
    } else {
      outgoing.end(body);
    }
  });
}
