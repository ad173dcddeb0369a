// A generated hostile suite against vault-dev with on-disk storage. About a thousand requests are
// built from the endpoint tables and the names of Object.prototype's members, JSON nested and
// sized past every limit, type-confused fields, hostile queries, and header and framing tricks;
// each goes on its own raw connection with no token, a bogus one, a read-only one or the root
// token. For every one: never a 5xx; answered or closed within the bound; and when refused (4xx,
// or closed without an answer) the data dir byte for byte as it was before the request.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { filesUnder } from '../../test/helpers/files.js';
import { startVaultDev, type VaultDevInstance } from '../../test/helpers/vault-dev.js';
import { exchange, httpRequest, type Exchange } from './raw-socket.js';
import { vaultClient } from './support.js';

/** Far beyond the instance's own deadlines (2 s for a head, 3 s for a request); only a hang reaches it. */
const HANG_LIMIT_MS = 30_000;

const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'prototype',
  '%5F%5Fproto%5F%5F',
];

/** Every route family vault-dev serves, with a name in the position a client chooses. */
const PATH_TEMPLATES: Array<(name: string) => string> = [
  (n) => n,
  (n) => `${n}/${n}`,
  (n) => `sys/${n}`,
  (n) => `sys/policy/${n}`,
  (n) => `sys/policies/acl/${n}`,
  (n) => `sys/mounts/${n}`,
  (n) => `auth/token/${n}`,
  (n) => `auth/${n}/login`,
  (n) => `secret/${n}`,
  (n) => `secret/data/${n}`,
  (n) => `secret/metadata/${n}`,
  (n) => `secret/destroy/${n}`,
  (n) => `${n}/data/x`,
];

const FIXED_PATHS = [
  'sys/init',
  'sys/unseal',
  'sys/seal-status',
  'sys/seal',
  'sys/health',
  'sys/leader',
  'sys/mounts',
  'sys/policy',
  'sys/capabilities-self',
  'auth/token/create',
  'auth/token/create-orphan',
  'auth/token/lookup',
  'auth/token/lookup-self',
  'auth/token/renew-self',
  'auth/token/revoke-self',
  'secret/config',
  'secret/metadata/',
];

const PROTOTYPE_BODY = '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"data":{"__proto__":{"a":1}}}';

const nest = (depth: number, open: string, close: string, leaf = '1') => `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;
const wideObject = (entries: number) => `{${Array.from({ length: entries }, (_, i) => `"k${i}":1`).join(',')}}`;

/** Bodies past the limits or of the wrong shape; each must be refused with a 4xx. */
const HOSTILE_BODIES: Array<[string, string | Buffer]> = [
  ['object nested 301 deep', `{"data":${nest(300, '{"a":', '}')}}`],
  ['object nested 3,250 deep', `{"data":${nest(3_250, '{"a":', '}')}}`],
  ['array nested 20,000 deep', `{"data":{"a":${nest(20_000, '[', ']')}}}`],
  ['string past 1 MiB', `{"data":{"a":"${'x'.repeat(1_048_577)}"}}`],
  ['object of 10,001 entries', `{"data":${wideObject(10_001)}}`],
  ['array of 10,001 elements', `{"data":{"a":[${Array(10_001).fill(1).join(',')}]}}`],
  ['truncated JSON', '{"data":{"a":'],
  ['not JSON', 'data=1'],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
  ['NUL bytes', '\u0000\u0000'],
  ['a JSON array', '[{"data":{}}]'],
  ['a JSON string', '"data"'],
  ['null', 'null'],
  ['an overflowing number', '1e400'],
  ['data as a string', '{"data":"x"}'],
  ['data as an array', '{"data":[1,2]}'],
  ['data as an overflowing number', '{"data":1e400}'],
  ['options as a string', '{"options":"x","data":{}}'],
  ['cas as text', '{"options":{"cas":"abc"},"data":{}}'],
  ['policies as an object', '{"policies":{"root":true}}'],
  ['policies naming root', '{"policies":["root"],"no_parent":true}'],
  ['a negative ttl', '{"ttl":"-1h"}'],
  ['an overflowing ttl', '{"ttl":"99999999999999h"}'],
  ['ttl as a list', '{"ttl":[1]}'],
  ['num_uses past 2^53', '{"num_uses":1e300}'],
  ['a negative num_uses', '{"num_uses":-1}'],
  ['a period', '{"period":"1h"}'],
  ['a batch token', '{"type":"batch"}'],
  ['a negative max_versions', '{"max_versions":-1}'],
  ['max_versions past uint32', '{"max_versions":100000000000}'],
  ['an overflowing delete_version_after', '{"delete_version_after":"99999999999999h"}'],
  ['versions past 2^53', '{"versions":[1e300]}'],
  ['versions as words', '{"versions":"a,b"}'],
  ['a policy valued "constructor"', '{"policy":"path \\"x\\" { policy = \\"constructor\\" }"}'],
  ['a policy nested 5,000 deep', `{"policy":"path \\"x\\" { a = ${nest(5_000, '[', ']')} }"}`],
  ['a policy with +*', '{"policy":"path \\"x/+*\\" { capabilities = [\\"read\\"] }"}'],
  ['a mount of type constructor', '{"type":"constructor"}'],
  ['an unseal key of junk', '{"key":"zz"}'],
  ['prototype keys only', PROTOTYPE_BODY],
];

const WRITE_TARGETS = [
  'secret/data/__proto__',
  'secret/metadata/toString',
  'secret/destroy/valueOf',
  'auth/token/create',
  'sys/policies/acl/constructor',
  'sys/mounts/hasOwnProperty',
  'sys/unseal',
];

const HEALTH_CODES = ['1000', '0', '-1', '99', '600', 'abc', '', '1e3', '%00', '2OO'];

interface HostileCase {
  name: string;
  bytes: Buffer;
  head?: boolean;
}

interface Tokens {
  bogus: string;
  reader: string;
  root: string;
}

function generateCases(tokens: Tokens): { fast: HostileCase[]; slow: HostileCase[] } {
  const cases: HostileCase[] = [];
  const add = (name: string, bytes: Buffer, head = false) => cases.push({ name, bytes, head });
  const withToken = (token: string | undefined): Array<[string, string]> => (token ? [['X-Vault-Token', token]] : []);

  // 1. Every route family with prototype names, half the methods each (all of them across paths),
  //    without the right to do anything there.
  const outsiders = [undefined, tokens.bogus, tokens.reader];
  const methods = ['GET', 'LIST', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
  const paths = [...PATH_TEMPLATES.flatMap((template) => PROTOTYPE_NAMES.map(template)), ...FIXED_PATHS];
  let turn = 0;
  for (const [i, path] of paths.entries()) {
    for (const method of methods.filter((_, m) => (m + i) % 2 === 0)) {
      const token = outsiders[turn++ % outsiders.length];
      const headers = withToken(token);
      const body = ['POST', 'PUT', 'PATCH'].includes(method) ? PROTOTYPE_BODY : undefined;
      if (method === 'PATCH') headers.push(['Content-Type', 'application/merge-patch+json']);
      add(`${method} ${path} (${token === undefined ? 'no token' : token === tokens.reader ? 'reader' : 'bogus'})`,
        httpRequest(method, `/v1/${path}`, { headers, ...(body ? { body } : {}) }), method === 'HEAD');
    }
  }

  // 2. The root token reading or listing the same paths.
  for (const [i, path] of paths.filter((p) => p !== 'sys/seal').entries()) {
    const method = i % 2 === 0 ? 'GET' : 'LIST';
    add(`${method} ${path} (root)`, httpRequest(method, `/v1/${path}`, { headers: withToken(tokens.root) }));
  }

  // 3. Hostile bodies, as root, to every kind of write endpoint.
  for (const [what, body] of HOSTILE_BODIES) {
    for (const target of WRITE_TARGETS) {
      add(`POST ${target}: ${what}`, httpRequest('POST', `/v1/${target}`, { headers: withToken(tokens.root), body }));
    }
    add(`PATCH secret/data/kept: ${what}`, httpRequest('PATCH', '/v1/secret/data/kept', {
      headers: [...withToken(tokens.root), ['Content-Type', 'application/merge-patch+json']],
      body,
    }));
  }

  // 4. Hostile queries.
  for (const name of ['activecode', 'sealedcode', 'uninitcode', 'standbycode', 'performancestandbycode']) {
    for (const code of HEALTH_CODES) add(`sys/health ${name}=${code}`, httpRequest('GET', `/v1/sys/health?${name}=${code}`));
  }
  for (const version of ['__proto__', 'constructor', '1e400', '-1', '99999999999999999999', '%00']) {
    add(`read ?version=${version}`, httpRequest('GET', `/v1/secret/data/kept?version=${version}`, { headers: withToken(tokens.root) }));
  }
  for (const query of ['list=false', 'list=maybe', 'list=', 'list=true&list=false', '__proto__=a&__proto__=b', 'constructor=x']) {
    for (const method of ['GET', 'LIST', 'DELETE']) {
      add(`${method} secret/metadata/?${query}`, httpRequest(method, `/v1/secret/metadata/?${query}`, { headers: withToken(tokens.root) }));
    }
  }

  // 5. Response wrapping asked for on writes and reads: refused, so nothing written.
  for (const ttl of ['60s', '0', '-1', 'abc', '1e400', ' ']) {
    const headers: Array<[string, string]> = [...withToken(tokens.root), ['X-Vault-Wrap-TTL', ttl]];
    add(`wrapped write (${ttl})`, httpRequest('POST', '/v1/secret/data/wrapped', { headers, body: '{"data":{"v":1}}' }));
    add(`wrapped token (${ttl})`, httpRequest('POST', '/v1/auth/token/create', { headers, body: '{}' }));
    add(`wrapped read (${ttl})`, httpRequest('GET', '/v1/secret/data/kept', { headers }));
  }

  // 6. Headers and framing.
  const root = withToken(tokens.root);
  const raw = (name: string, text: string) => add(name, Buffer.from(text, 'latin1'));
  add('two tokens', httpRequest('GET', '/v1/secret/data/kept', { headers: [...root, ['X-Vault-Token', tokens.bogus]] }));
  add('a token of 8 KiB', httpRequest('GET', '/v1/secret/data/kept', { headers: [['X-Vault-Token', 'x'.repeat(8192)]] }));
  add('an empty bearer', httpRequest('GET', '/v1/secret/data/kept', { headers: [['Authorization', 'Bearer ']] }));
  add('a bearer of prototype name', httpRequest('GET', '/v1/secret/data/kept', { headers: [['Authorization', 'Bearer __proto__']] }));
  for (const type of ['text/plain', 'application/json', 'application/merge-patch+json; charset=__proto__', '']) {
    add(`PATCH as ${type}`, httpRequest('PATCH', '/v1/secret/data/kept', { headers: [...root, ['Content-Type', type]], body: '{"data":{"p":1}}' }));
  }
  raw('a folded header', `GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Vault-Token: a\r\n b\r\nConnection: close\r\n\r\n`);
  raw('a NUL in a header', `GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-A: \u0000\r\nConnection: close\r\n\r\n`);
  raw('a head of 70 KiB', `GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(70_000)}\r\n\r\n`);
  raw('a garbage request line', 'GARBAGE\r\n\r\n');
  raw('a lower-case method', 'get /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n');
  raw('a lower-case list', 'list /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\n\r\n');
  raw('HTTP/0.9', 'GET /v1/sys/health\r\n\r\n');
  raw('an HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  raw('HTTP/1.0', 'GET /v1/sys/health HTTP/1.0\r\n\r\n');
  raw('the absolute form', `GET http://vault-dev/v1/secret/data/kept HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${tokens.root}\r\nConnection: close\r\n\r\n`);
  raw('the asterisk form', 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  raw('CONNECT', 'CONNECT vault-dev:443 HTTP/1.1\r\nHost: vault-dev:443\r\n\r\n');
  raw('an Upgrade', 'GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  raw('Transfer-Encoding and Content-Length', `POST /v1/secret/data/smuggled HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${tokens.root}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
  raw('two Content-Lengths', `POST /v1/secret/data/smuggled HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${tokens.root}\r\nContent-Length: 2\r\nContent-Length: 17\r\n\r\n{"data":{"v":1}}`);
  raw('a bad chunk size', `POST /v1/secret/data/smuggled HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${tokens.root}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`);
  raw('a negative Content-Length', `POST /v1/secret/data/smuggled HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${tokens.root}\r\nContent-Length: -1\r\n\r\n`);
  raw('a LIST with a chunked body', `LIST /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${tokens.root}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n`);
  raw('a LIST with an absolute target', `LIST http://x/v1/secret/metadata/?list=false HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${tokens.root}\r\nConnection: close\r\n\r\n`);
  raw('a LIST of sys/health', 'LIST /v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  for (const target of ['/v1/secret/data/%ff', '/v1/secret/data/%c0%af', '/v1/%2e%2e/sys/health', '/v1/secret/data/%00', '/v1/sys%2fhealth', '//v1/sys/health', '/v1/secret/data/../../sys/mounts', '/v1/secret/data//', '/v1/secret/data/%', '/v1']) {
    for (const method of ['GET', 'POST', 'DELETE']) {
      add(`${method} ${target}`, httpRequest(method, target, { headers: root, ...(method === 'POST' ? { body: '{}' } : {}) }));
    }
  }

  // Requests cut short wait for the instance's deadlines; they run together, apart from the others.
  const slow: HostileCase[] = [
    { name: 'a body shorter than its Content-Length', bytes: httpRequest('POST', '/v1/secret/data/cut', { headers: [...root, ['Content-Length', '100']], body: '{"data":{}}' }) },
    { name: 'a chunked body never ended', bytes: httpRequest('POST', '/v1/secret/data/cut', { headers: [...root, ['Transfer-Encoding', 'chunked']], body: '2\r\n{}\r\n' }) },
    { name: 'a head never ended', bytes: Buffer.from(`POST /v1/secret/data/cut HTTP/1.1\r\nX-Vault-Token: ${tokens.root}\r\n`) },
    { name: 'a LIST never ended', bytes: Buffer.from('LIST /v1/secret/metadata/ HTTP/1.1\r\n') },
  ];
  return { fast: cases, slow };
}

/** The data dir as file name -> SHA-256 of the bytes. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = filesUnder(dir).sort();
  const digests = await Promise.all(files.map(async (f) => createHash('sha256').update(await readFile(f)).digest('hex')));
  return new Map(files.map((f, i) => [f, digests[i]!]));
}

function sameSnapshot(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([file, digest]) => b.get(file) === digest);
}

describe('vault-dev hostile suite', () => {
  let vault: VaultDevInstance;
  let tokens: Tokens;

  before(async () => {
    vault = await startVaultDev({ dev: false, args: ['--http-read-header-timeout=2s', '--http-read-timeout=3s'] });
    const init = (await vaultClient(vault.addr).init({ secret_shares: 1, secret_threshold: 1 })) as {
      keys: string[];
      root_token: string;
    };
    await vaultClient(vault.addr).unseal({ key: init.keys[0]! });
    const root = vaultClient(vault.addr, init.root_token);
    await root.write('sys/policies/acl/suite-reader', {
      policy: 'path "secret/data/kept" { capabilities = ["read"] }\npath "secret/metadata/*" { capabilities = ["list"] }',
    });
    const reader = (await vaultClient(vault.addr, init.root_token).tokenCreate({
      policies: ['suite-reader'],
      no_default_policy: true,
    })) as { auth: { client_token: string } };
    await root.write('secret/data/kept', { data: { password: 'kept-value' } });
    tokens = { bogus: 'hvs.bogusbogusbogusbogus1', reader: reader.auth.client_token, root: init.root_token };
  });

  after(async () => {
    await vault?.stop();
  });

  it('answers or closes every request, never with a 5xx, and writes nothing for a refused one', async (t) => {
    const { fast, slow } = generateCases(tokens);
    assert.ok(fast.length + slow.length >= 500, `only ${fast.length + slow.length} requests`);
    const problems: string[] = [];
    const statuses = new Map<string, number>();
    const judge = (c: HostileCase, outcome: Exchange, changed: boolean) => {
      const key = outcome.status === undefined ? 'closed' : String(outcome.status);
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (outcome.hung) problems.push(`${c.name}: no answer and not closed within ${HANG_LIMIT_MS} ms`);
      if (outcome.status !== undefined && outcome.status >= 500) problems.push(`${c.name}: ${outcome.status}`);
      const refused = outcome.status === undefined || outcome.status >= 400;
      if (refused && changed) problems.push(`${c.name}: refused (${key}) but the data dir changed`);
    };
    const started = Date.now();

    const beforeSlow = await snapshot(vault.dataDir);
    const slowOutcomes = await Promise.all(
      slow.map((c) => exchange(vault.addr, { pieces: [c.bytes], untilClosed: true, limitMs: HANG_LIMIT_MS })),
    );
    const slowChanged = !sameSnapshot(beforeSlow, await snapshot(vault.dataDir));
    for (const [i, c] of slow.entries()) judge(c, slowOutcomes[i]!, slowChanged);

    let current = await snapshot(vault.dataDir);
    for (const c of fast) {
      const outcome = await exchange(vault.addr, { pieces: [c.bytes], head: c.head ?? false, limitMs: HANG_LIMIT_MS });
      const next = await snapshot(vault.dataDir);
      judge(c, outcome, !sameSnapshot(current, next));
      current = next;
    }

    t.diagnostic(`${fast.length + slow.length} requests in ${Date.now() - started} ms; answers: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(' ')}`);
    assert.deepEqual(problems, []);

    // Still serving, and nothing reached the catch-all error handler.
    const read = await vaultClient(vault.addr, tokens.root).read('secret/data/kept');
    assert.equal(read.data.data.password, 'kept-value');
    assert.doesNotMatch(vault.output(), /internal error/);
  });
});
