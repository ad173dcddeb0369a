// The query string as the client wrote it, pair by pair: for changes that must keep every other parameter exactly as
// sent (its spelling and order), judged by each name decoded the way the query parser decodes it.

export interface QueryPair {
  /** `name=value` as written. */
  pair: string;
  /** The name as written. */
  rawName: string;
  /** The name decoded (`%73ite` is `site`); as written when its escapes are malformed. */
  name: string;
}

/** `url` with each query pair replaced by what `rewrite` returns for it, or dropped when it returns undefined. */
export function rewriteQuery(url: string, rewrite: (pair: QueryPair) => string | undefined): string {
  const queryAt = url.indexOf('?');
  if (queryAt === -1) return url;
  const kept: string[] = [];
  for (const pair of url.slice(queryAt + 1).split('&')) {
    const equals = pair.indexOf('=');
    const rawName = equals === -1 ? pair : pair.slice(0, equals);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      // A malformed escape: judged as written (the contract validator reports it where it matters).
    }
    const rewritten = rewrite({ pair, rawName, name });
    if (rewritten !== undefined) kept.push(rewritten);
  }
  return kept.length > 0 ? `${url.slice(0, queryAt)}?${kept.join('&')}` : url.slice(0, queryAt);
}
