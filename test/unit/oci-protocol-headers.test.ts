// The header grammars the registry client reads: WWW-Authenticate challenges, Link paging, Retry-After.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWwwAuthenticate } from '../../src/oci/www-authenticate.js';
import { nextLink } from '../../src/oci/link-header.js';
import { retryAfterMs } from '../../src/oci/retry-layer.js';

describe('WWW-Authenticate', () => {
  it('reads a Docker token challenge with quoted parameters', () => {
    assert.deepEqual(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      ),
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' },
        },
      ],
    );
  });

  it('reads insufficient_scope, token values, escapes and commas inside quotes', () => {
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://a/t",scope="repository:a:pull,push",error=insufficient_scope'), [
      { scheme: 'bearer', params: { realm: 'https://a/t', scope: 'repository:a:pull,push', error: 'insufficient_scope' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate('Basic realm="say \\"hi\\""'), [{ scheme: 'basic', params: { realm: 'say "hi"' } }]);
  });

  it('separates several challenges, in one header or several', () => {
    assert.deepEqual(
      parseWwwAuthenticate('Basic realm="r1", Bearer realm="https://t", service=s').map((c) => [c.scheme, c.params]),
      [
        ['basic', { realm: 'r1' }],
        ['bearer', { realm: 'https://t', service: 's' }],
      ],
    );
    assert.deepEqual(
      parseWwwAuthenticate(['Negotiate', 'Basic realm=x']).map((c) => c.scheme),
      ['negotiate', 'basic'],
    );
  });

  it('survives garbage without looping', () => {
    assert.deepEqual(parseWwwAuthenticate(undefined), []);
    assert.deepEqual(parseWwwAuthenticate(''), []);
    assert.equal(parseWwwAuthenticate('"" ,,, = ="').length, 0);
    assert.deepEqual(parseWwwAuthenticate('Basic dXNlcjpwYXNz=='), [{ scheme: 'basic', params: {} }]);
  });
});

describe('Link', () => {
  it('finds rel="next", relative or absolute, among other links', () => {
    assert.equal(nextLink('</v2/_catalog?last=b&n=2>; rel="next"'), '/v2/_catalog?last=b&n=2');
    assert.equal(nextLink('<https://r/v2/x/tags/list?n=1&last=a>;rel=next'), 'https://r/v2/x/tags/list?n=1&last=a');
    assert.equal(nextLink('</p1>; rel="prev", </p3>; rel="next"'), '/p3');
    assert.equal(nextLink(['</p1>; rel="prev"', '</p3>; rel="next"']), '/p3');
    assert.equal(nextLink('</p1>; rel="prev"'), undefined);
    assert.equal(nextLink(undefined), undefined);
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    assert.equal(retryAfterMs('7'), 7000);
    assert.equal(retryAfterMs(new Date(61_000).toUTCString(), 1_000), 60_000);
    assert.equal(retryAfterMs('soon'), undefined);
    assert.equal(retryAfterMs(undefined), undefined);
  });
});
