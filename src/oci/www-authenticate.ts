// The `WWW-Authenticate` header (RFC 9110 section 11.6.1): one or more challenges, each a scheme and
// `name=value` parameters (tokens or quoted strings), e.g. `Bearer realm="https://auth",service="registry"`.

export interface Challenge {
  /** Lowercased: `basic`, `bearer`, ... */
  scheme: string;
  /** Parameter names lowercased, values unquoted. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((h) => parseWwwAuthenticate(h));
  const challenges: Challenge[] = [];
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header[i] ?? '')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < header.length && TOKEN_CHAR.test(header[i] ?? '')) i++;
    return header.slice(start, i);
  };
  const quoted = (): string => {
    let value = '';
    for (i++; i < header.length && header[i] !== '"'; i++) {
      if (header[i] === '\\') i++;
      value += header[i] ?? '';
    }
    i++;
    return value;
  };

  while (i < header.length) {
    skip(/[\s,]/);
    const scheme = token();
    if (scheme === '') {
      i++; // not a token character where a scheme should start: step over it
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    for (;;) {
      skip(/[\s,]/);
      const mark = i;
      const name = token();
      skip(/\s/);
      if (name === '' || header[i] !== '=') {
        // Not `name=`: either the next challenge's scheme or a token68 (which no registry uses); rewind.
        i = name === '' ? i : mark;
        break;
      }
      i++;
      skip(/\s/);
      // token68 padding (`abc==`) would put another '=' here; swallow it rather than misparse.
      if (header[i] === '=') {
        skip(/=/);
        continue;
      }
      challenge.params[name.toLowerCase()] = header[i] === '"' ? quoted() : token();
    }
  }
  return challenges;
}
