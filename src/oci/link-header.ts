// The `Link` header registries use for paging (`</v2/_catalog?last=x&n=100>; rel="next"`, RFC 8288),
// reduced to what paging needs: the target of rel="next", as written (relative or absolute).

export function nextLink(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const values = Array.isArray(header) ? header : [header];
  for (const value of values) {
    for (const match of value.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
      const params = match[2] ?? '';
      const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
      const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
      if (relations.includes('next')) return match[1];
    }
  }
  return undefined;
}
