// Hostile input against a started Berth: hundreds of malformed requests (broken and oversized bodies, alias bombs,
// deep nesting, control characters, prototype keys, path tricks, bogus parameters, ETags, media types, JSON Patch,
// credentials) plus fast-check's random ones. Each must get a 4xx with the API error body, and the store must not change.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import yaml from 'js-yaml';
import fc from 'fast-check';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api } from '../helpers/api.js';
import { assertMatchesContract, templateOf } from '../helpers/contract.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { componentSchema, contract, schemaValidator, validatorFor } from '../../src/contract/openapi.js';
import { checkFields, parseFields } from '../../src/http/fields.js';

const LIST = '/v1/config/image-registry/remote-registries';
const STATE = '/v1/state/image-registry/remote-registries';
const TOKENS = '/v1/config/system/tokens';
const TARGET = 'target.example.com';
const ONE = `${LIST}/${TARGET}`;
const MiB = 1024 * 1024;

/** One hostile request and what it must get. */
interface HostileCase {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  chunked?: boolean;
  contentType?: string;
  /** Set explicitly to test Accept itself; otherwise each case gets one of ACCEPTS in turn. */
  accept?: string;
  /** `null`: no Authorization header; a string: that header as-is. Default: the admin token. */
  authorization?: string | null;
  /** The status (or one of the statuses) it must get; any 4xx when absent. */
  expect?: number | number[];
  /** What the error message must say, for the cases where the reason matters. */
  message?: RegExp;
}

/** The Accept headers cases rotate through, and whether the error body must then be YAML. */
const ACCEPTS: { accept: string | undefined; yaml: boolean }[] = [
  { accept: undefined, yaml: false },
  { accept: 'application/yaml', yaml: true },
  { accept: 'application/json', yaml: false },
  { accept: 'text/yaml', yaml: true },
  { accept: 'application/json;q=0.1, application/yaml', yaml: true },
  { accept: '*/*', yaml: false },
  { accept: 'application/x-yaml', yaml: true },
];

const validErrorBody = validatorFor('#/components/schemas/ErrorBody');
const validRegistry = schemaValidator('RemoteRegistry');
const validRegistryPatch = schemaValidator('RemoteRegistryPatch');

let berth: BerthProcess;
let api: Api;
let adminAuth: string;
let readAuth: string;
let targetEtag: string;
let sent = 0;

interface Snapshot {
  list: unknown;
  state: unknown;
  tokens: unknown;
  target: { etag: string | null; body: unknown };
}

async function snapshot(): Promise<Snapshot> {
  const [list, state, tokens, target] = await Promise.all([api.get(LIST), api.get(STATE), api.get(TOKENS), api.get(ONE)]);
  return { list: list.body, state: state.body, tokens: tokens.body, target: { etag: target.headers.get('etag'), body: target.body } };
}
let before_: Snapshot;

before(async () => {
  berth = await startBerth();
  api = new Api(berth.url, berth.adminToken, assertMatchesContract);
  adminAuth = `Bearer ${berth.adminToken}`;
  const created = await api.post(LIST, {
    address: TARGET,
    'override-address': 'mirror.example.com:5000',
    credentials: [
      { repository: '*', vault: 'kv', secret: 'registry/default' },
      { repository: 'team/app', vault: 'kv', secret: 'registry/team' },
    ],
  });
  assert.equal(created.status, 201, created.text);
  targetEtag = created.headers.get('etag')!;
  assert.equal((await api.post(LIST, { address: 'other.example.com:5000' })).status, 201);
  const reader = await api.post(TOKENS, { name: 'hostile-reader', role: 'read' });
  assert.equal(reader.status, 201);
  readAuth = `Bearer ${(reader.body as { token: string }).token}`;
  before_ = await snapshot();
});

after(async () => {
  await berth.stop();
});

/** Why the answer breaks the rules, or undefined when it is a proper API error. */
function problemWith(c: HostileCase, wantYaml: boolean, res: RawResponse): string | undefined {
  if (res.status < 400 || res.status > 499) return `status ${res.status}: ${res.text.slice(0, 300)}`;
  const expected = c.expect === undefined ? undefined : ([] as number[]).concat(c.expect);
  if (expected && !expected.includes(res.status)) return `status ${res.status}, expected ${expected.join(' or ')}: ${res.text.slice(0, 300)}`;
  const type = String(res.headers['content-type'] ?? '');
  const mediaType = wantYaml ? 'application/yaml' : 'application/json';
  if (!type.startsWith(mediaType)) return `content type '${type}', expected ${mediaType}`;
  let body: unknown;
  try {
    body = wantYaml ? yaml.load(res.text) : JSON.parse(res.text);
  } catch (e) {
    return `the error body does not parse as ${mediaType}: ${(e as Error).message}`;
  }
  if (!validErrorBody(body)) return `not an API error body: ${res.text.slice(0, 300)}`;
  const message = (body as { errors: { 'error-message': string }[] }).errors[0]!['error-message'];
  if (c.message && !c.message.test(message)) return `message '${message.slice(0, 300)}' does not match ${c.message}`;
  if (res.text.includes(berth.adminToken) || res.text.includes(readAuth.slice(7))) return 'a token appears in the answer';
  // Where the contract has the operation, the status must be one it documents.
  let template: string | undefined;
  try {
    template = templateOf(c.path);
  } catch {
    template = undefined;
  }
  const operation = template && (contract.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)[template]?.[c.method.toLowerCase()];
  if (operation && !(String(res.status) in operation.responses)) return `status ${res.status} is not documented for ${c.method} ${template}`;
  return undefined;
}

/** Sends every case and asserts each answer; all problems are reported together. Returns the answers. */
async function sendAll(cases: HostileCase[]): Promise<RawResponse[]> {
  const problems: string[] = [];
  const answers: RawResponse[] = [];
  for (const c of cases) {
    const rotation = ACCEPTS[sent++ % ACCEPTS.length]!;
    const accept = c.accept ?? rotation.accept;
    const wantYaml = c.accept !== undefined ? /yaml/.test(c.accept) && !/json/.test(c.accept) : rotation.yaml;
    const headers: Record<string, string | string[]> = { ...c.headers };
    const authorization = c.authorization === undefined ? adminAuth : c.authorization;
    if (authorization !== null && !('authorization' in headers)) headers.authorization = authorization;
    if (accept !== undefined) headers.accept = accept;
    if (c.contentType !== undefined) headers['content-type'] = c.contentType;
    let res: RawResponse;
    try {
      res = await rawRequest(berth.url, { method: c.method, path: c.path, headers, ...(c.body !== undefined ? { body: c.body } : {}), ...(c.chunked ? { chunked: true } : {}) });
    } catch (e) {
      problems.push(`${c.name}: no answer: ${(e as Error).message}`);
      continue;
    }
    answers.push(res);
    const problem = problemWith(c, wantYaml, res);
    if (problem) problems.push(`${c.name} (${c.method} ${c.path.slice(0, 120)}): ${problem}`);
  }
  assert.deepEqual(problems, [], `${problems.length} of ${cases.length} hostile requests were not answered properly`);
  return answers;
}

const json = (value: unknown) => JSON.stringify(value);
const asYaml = (value: unknown) => yaml.dump(value);

/** The same body as JSON and as YAML, posted to the list. */
function bothFormats(name: string, value: unknown, expect: number | number[] = 400, path = LIST, method = 'POST'): HostileCase[] {
  return [
    { name: `${name} (JSON)`, method, path, contentType: 'application/json', body: json(value), expect },
    { name: `${name} (YAML)`, method, path, contentType: 'application/yaml', body: asYaml(value), expect },
  ];
}

const allCases: HostileCase[] = [];
/** Registers a group's cases for the final count and sends them. */
async function run(cases: HostileCase[]): Promise<RawResponse[]> {
  allCases.push(...cases);
  return sendAll(cases);
}

describe('malformed bodies', () => {
  it('broken JSON is a 400', async () => {
    const texts = [
      '{', '}', '[', ']', '{"address":}', '{"address":"a.example.com",}', "{'address':'a.example.com'}", '{"address":"a.example.com"',
      '{"address":"a.example.com"}}', '{"address":"a.example.com"} x', 'nul', 'NaN', 'Infinity', '-', '{"address":"a.example.com"\n"x":1}',
      '{"address":"\\x41.example.com"}', '"unterminated', '{"a":01}', '{"a":1.}', '{"a":.5}', '{"a":+1}', '{"a":0x10}',
      '/* comment */{"address":"a.example.com"}', '{"address":"a.example.com"} // comment',
      '{"address": "a.example.com", "credentials": [}', '{"address":"a\u0001.example.com"}', '{"address" "a.example.com"}', '{,}', '[1,,2]',
    ];
    await run(texts.map((body, i) => ({ name: `broken JSON ${i}`, method: 'POST', path: LIST, contentType: 'application/json', body, expect: 400 })));
  });

  it('broken YAML is a 400 naming where it broke', async () => {
    const texts = [
      'address: "a.example.com', "address: 'a.example.com", 'address: a.example.com\n  - x', '\taddress: a.example.com', 'address:\n\t- x',
      '- a\nb: c', '{address: a.example.com', '[a, b', '%YAML 9.9\n---\na: 1', 'a: *unknown', 'address: @a.example.com', 'address: `x`',
      'key: |\n  x\n bad: y', '"\\xZZ"', 'address: a.example.com\n---\naddress: b.example.com', 'address: !!js/function "function(){}"',
      'address: !!binary aGVsbG8=', 'address: !!timestamp 2001-12-14', 'address: !!python/object:os.system ls', 'address: !custom x',
      '? [a, b]\n: c\naddress: a.example.com', '<<: {address: merged.example.com}', 'address: [a.example.com', '- - - -\n  x: [',
      'address: a.example.com\ncredentials:\n  - repository: "*\n',
    ];
    const cases = texts.map((body, i): HostileCase => ({ name: `broken YAML ${i}`, method: 'POST', path: LIST, contentType: 'application/yaml', body, expect: 400 }));
    await run(cases);
  });

  it('bodies of the wrong types are a 400 naming the field', async () => {
    const wrong: [string, unknown][] = [
      ['null', null], ['true', true], ['a number', 42], ['a string', 'a.example.com'], ['an empty list', []], ['a list of registries', [{ address: 'list.example.com' }]],
      ['an empty object', {}], ['address as a number', { address: 42 }], ['address as true', { address: true }], ['address as null', { address: null }],
      ['address as a list', { address: ['a.example.com'] }], ['address as an object', { address: { host: 'a.example.com' } }], ['address empty', { address: '' }],
      ['credentials as a string', { address: 'w1.example.com', credentials: 'x' }], ['credentials as an object', { address: 'w2.example.com', credentials: { repository: '*' } }],
      ['credentials as a number', { address: 'w3.example.com', credentials: 7 }], ['a null credential', { address: 'w4.example.com', credentials: [null] }],
      ['a numeric credential', { address: 'w5.example.com', credentials: [42] }], ['a nested list credential', { address: 'w6.example.com', credentials: [[]] }],
      ['repository as a number', { address: 'w7.example.com', credentials: [{ repository: 42, vault: 'v', secret: 's' }] }],
      ['vault as a list', { address: 'w8.example.com', credentials: [{ repository: 'a', vault: ['v'], secret: 's' }] }],
      ['secret as an object', { address: 'w9.example.com', credentials: [{ repository: 'a', vault: 'v', secret: { path: 's' } }] }],
      ['ca-cert as a number', { address: 'w10.example.com', 'ca-cert': 42 }], ['ca-cert as a list', { address: 'w11.example.com', 'ca-cert': ['-----BEGIN CERTIFICATE-----'] }],
      ['override-address as a number', { address: 'w12.example.com', 'override-address': 5000 }], ['override-address as false', { address: 'w13.example.com', 'override-address': false }],
      ['a port out of range', { address: 'w14.example.com:99999' }], ['a scheme', { address: 'https://w15.example.com' }],
      ['1001 credentials', { address: 'w16.example.com', credentials: Array.from({ length: 1001 }, (_, i) => ({ repository: `r${i}`, vault: 'v', secret: 's' })) }],
      ['duplicate credential keys', { address: 'w17.example.com', credentials: [{ repository: 'a', vault: 'v', secret: 's' }, { repository: 'a', vault: 'v', secret: 't' }] }],
    ];
    await run(wrong.flatMap(([name, value]) => bothFormats(name, value)));
    // The same for the other writes: PUT (whole object) and the token list.
    await run([
      ...bothFormats('PUT of a list', [{ address: TARGET }], 400, ONE, 'PUT'),
      ...bothFormats('PUT with address as a number', { address: 1 }, 400, ONE, 'PUT'),
      ...bothFormats('PUT with another key', { address: 'other-key.example.com' }, 400, ONE, 'PUT'),
      ...bothFormats('a token with a bad role', { name: 'x1', role: 'root' }, 400, TOKENS),
      ...bothFormats('a token with a numeric name', { name: 7, role: 'read' }, 400, TOKENS),
      ...bothFormats('a token with an extra field', { name: 'x2', role: 'read', token: 'chosen-by-me-0123456789' }, 400, TOKENS),
      ...bothFormats('a token named __proto__', { name: '__proto__', role: 'admin' }, 400, TOKENS),
    ]);
  });
});

describe('oversized and explosive bodies', () => {
  it('bodies over 1 MiB are a 413, with or without Content-Length, also compressed', async () => {
    const big = (n: number) => json({ address: 'big.example.com', 'ca-cert': 'x'.repeat(n) });
    const zeros = json({ address: 'zip.example.com', 'ca-cert': '0'.repeat(20 * MiB) });
    await run([
      { name: '1 MiB + 1 of JSON', method: 'POST', path: LIST, contentType: 'application/json', body: big(MiB + 1 - big(0).length), expect: 413, message: /larger than the limit/ },
      { name: '2 MiB of YAML', method: 'POST', path: LIST, contentType: 'application/yaml', body: `address: big.example.com\nca-cert: ${'y'.repeat(2 * MiB)}\n`, expect: 413 },
      { name: '3 MiB chunked', method: 'POST', path: LIST, contentType: 'application/json', body: big(3 * MiB), chunked: true, expect: 413 },
      { name: '2 MiB PUT', method: 'PUT', path: ONE, contentType: 'application/json', body: big(2 * MiB), expect: 413 },
      { name: '2 MiB merge patch', method: 'PATCH', path: ONE, contentType: 'application/merge-patch+json', body: big(2 * MiB), expect: 413 },
      { name: '2 MiB JSON Patch', method: 'PATCH', path: ONE, contentType: 'application/json-patch+json', body: json([{ op: 'add', path: '/ca-cert', value: 'z'.repeat(2 * MiB) }]), expect: 413 },
      { name: '2 MiB token', method: 'POST', path: TOKENS, contentType: 'application/json', body: json({ name: 'big', role: 'read', x: 'x'.repeat(2 * MiB) }), expect: 413 },
      { name: 'a gzip bomb: 20 MiB inflated', method: 'POST', path: LIST, contentType: 'application/json', headers: { 'content-encoding': 'gzip' }, body: gzipSync(zeros), expect: 413 },
      { name: 'gzip that is not gzip', method: 'POST', path: LIST, contentType: 'application/json', headers: { 'content-encoding': 'gzip' }, body: '{"address":"nz.example.com"}', expect: 400 },
      { name: 'deflate that is not deflate', method: 'POST', path: LIST, contentType: 'application/json', headers: { 'content-encoding': 'deflate' }, body: 'garbage', expect: 400 },
      { name: 'an unknown content encoding', method: 'POST', path: LIST, contentType: 'application/json', headers: { 'content-encoding': 'x-compress-9000' }, body: '{"address":"ce.example.com"}', expect: 415 },
    ]);
  });

  it('a YAML alias bomb ("billion laughs") under the limit is a 400, answered at once', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const name = String.fromCharCode(97 + i);
      const previous = String.fromCharCode(96 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    const bomb = `${levels.join('\n')}\naddress: laughs.example.com\n`;
    assert.ok(bomb.length < 2048);
    const inPatch = `credentials:\n  - repository: "*"\n    vault: &v [${Array(9).fill('x').join(',')}]\n${levels.join('\n')}\n`;
    await run([
      { name: 'billion laughs', method: 'POST', path: LIST, contentType: 'application/yaml', body: bomb, expect: 400, message: /more than 100000 values/ },
      { name: 'billion laughs in a PUT', method: 'PUT', path: ONE, contentType: 'text/yaml', body: bomb, expect: 400, message: /more than 100000 values/ },
      { name: 'billion laughs in a PATCH', method: 'PATCH', path: ONE, contentType: 'application/x-yaml', body: inPatch, expect: 400, message: /more than 100000 values/ },
      { name: 'a self-referencing alias', method: 'POST', path: LIST, contentType: 'application/yaml', body: 'a: &a [*a]\n', expect: 400 },
      { name: '150k values in JSON', method: 'POST', path: LIST, contentType: 'application/json', body: `[${Array(150_000).fill('0').join(',')}]`, expect: 400, message: /more than 100000 values/ },
    ]);
  });

  it('deep nesting (10k levels and more) is a 400', async () => {
    const open = (n: number) => '['.repeat(n);
    const closed = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const objects = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    await run([
      { name: '10k [ in JSON', method: 'POST', path: LIST, contentType: 'application/json', body: open(10_000), expect: 400 },
      { name: '10k [ in YAML', method: 'POST', path: LIST, contentType: 'application/yaml', body: open(10_000), expect: 400 },
      { name: '10k balanced [] in JSON', method: 'POST', path: LIST, contentType: 'application/json', body: closed(10_000), expect: 400, message: /nested/ },
      { name: '10k balanced [] in YAML', method: 'POST', path: LIST, contentType: 'application/yaml', body: closed(10_000), expect: 400 },
      { name: '400k balanced [] in JSON', method: 'POST', path: LIST, contentType: 'application/json', body: closed(400_000), expect: 400 },
      { name: '10k nested objects in JSON', method: 'POST', path: LIST, contentType: 'application/json', body: objects(10_000), expect: 400, message: /nested/ },
      { name: '10k nested objects in YAML flow', method: 'POST', path: LIST, contentType: 'application/yaml', body: `${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}`, expect: 400 },
      { name: '10k block sequence levels in YAML', method: 'POST', path: LIST, contentType: 'application/yaml', body: `${'- '.repeat(10_000)}x\n`, expect: 400 },
      { name: '10k [ in a merge patch', method: 'PATCH', path: ONE, contentType: 'application/merge-patch+json', body: `{"credentials":${closed(10_000)}}`, expect: 400 },
      { name: '10k [ in a JSON Patch value', method: 'PATCH', path: ONE, contentType: 'application/json-patch+json', body: `[{"op":"add","path":"/x","value":${closed(10_000)}}]`, expect: 400 },
      { name: '10k [ in a token', method: 'POST', path: TOKENS, contentType: 'application/json', body: open(10_000), expect: 400 },
      { name: '10k [ in a GET body', method: 'GET', path: LIST, contentType: 'application/json', body: open(10_000), expect: 400 },
    ]);
  });
});

describe('characters', () => {
  it('unicode and control characters in keys and values are a 400', async () => {
    const addresses = [
      'ünïcode.example.com', 'a.example.com\u202e', 'a\u200b.example.com', '🚢.example.com', 'a.example.com\r\nX-Injected: 1', 'a.example.com\t',
      '\u0000', 'a.example.com\u0000', '\ud800.example.com', 'ａ.example.com', 'a.example.com\u0085', '\u001b[31mred.example.com', 'a..example.com', '.example.com',
    ];
    const keys = ['addréss', 'address\u0000', '', '\u202eaddress', 'ADDRESS', ' address', 'address ', 'cred\u0000entials', '🚢'];
    await run([
      ...addresses.flatMap((address, i) => bothFormats(`address with odd characters ${i}`, { address })),
      ...keys.flatMap((key, i) => bothFormats(`an odd key ${i}`, { address: `k${i}.example.com`, [key]: 'x' })),
      ...bothFormats('a repository with unicode', { address: 'u1.example.com', credentials: [{ repository: 'ünï', vault: 'v', secret: 's' }] }),
      ...bothFormats('a secret with NUL', { address: 'u2.example.com', credentials: [{ repository: 'a', vault: 'v', secret: 'a\u0000b' }] }),
      ...bothFormats('a vault with a newline', { address: 'u3.example.com', credentials: [{ repository: 'a', vault: 'v\nx', secret: 's' }] }),
      ...bothFormats('a ca-cert with NUL after the header', { address: 'u4.example.com', 'ca-cert': '-----BEGIN CERTIFICATE-----\u0000\n-----END CERTIFICATE-----' }),
      { name: 'invalid UTF-8 bytes', method: 'POST', path: LIST, contentType: 'application/json', body: Buffer.concat([Buffer.from('{"address":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xaf]), Buffer.from('.example.com"}')]), expect: 400 },
      { name: 'UTF-16 text declared as UTF-8', method: 'POST', path: LIST, contentType: 'application/json', body: Buffer.from('{"address":"u16.example.com"}', 'utf16le'), expect: 400 },
    ]);
  });

  it('NUL bytes anywhere are a 400', async () => {
    await run([
      { name: 'NUL between JSON tokens', method: 'POST', path: LIST, contentType: 'application/json', body: '{"address":\u0000"n1.example.com"}', expect: 400 },
      { name: 'raw NUL inside a JSON string', method: 'POST', path: LIST, contentType: 'application/json', body: '{"address":"n2.example.com\u0000"}', expect: 400 },
      { name: 'raw NUL in YAML', method: 'POST', path: LIST, contentType: 'application/yaml', body: 'address: n3.example.com\u0000\n', expect: 400 },
      { name: 'only NUL bytes', method: 'POST', path: LIST, contentType: 'application/json', body: Buffer.alloc(64), expect: 400 },
      { name: 'only NUL bytes as YAML', method: 'PATCH', path: ONE, contentType: 'application/yaml', body: Buffer.alloc(64), expect: 400 },
      { name: 'NUL in a key', method: 'POST', path: LIST, contentType: 'application/json', body: '{"address":"n4.example.com","\\u0000":1}', expect: 400 },
      { name: 'NUL in fields', method: 'GET', path: `${LIST}?fields=address%00`, expect: 400 },
      { name: 'NUL as a query parameter name', method: 'GET', path: `${LIST}?%00=1`, expect: 400 },
      { name: 'NUL in the address', method: 'GET', path: `${LIST}/target.example.com%00`, expect: 400 },
      { name: 'NUL in a token name', method: 'GET', path: `${TOKENS}/hostile-reader%00`, expect: 400 },
    ]);
  });

  it('duplicate YAML keys are a 400, wherever they are', async () => {
    const texts = [
      'address: d1.example.com\naddress: d1.example.com\n', 'address: d2.example.com\naddress: d3.example.com\n',
      'address: d4.example.com\ncredentials: []\ncredentials: []\n', 'address: d5.example.com\ncredentials:\n  - repository: a\n    repository: b\n    vault: v\n    secret: s\n',
      '{address: d6.example.com, address: d7.example.com}', '? address\n: d8.example.com\naddress: d9.example.com\n', '"address": d10.example.com\naddress: d10.example.com\n',
    ];
    await run([
      ...texts.map((body, i): HostileCase => ({ name: `duplicate key ${i}`, method: 'POST', path: LIST, contentType: 'application/yaml', body, expect: 400, message: /duplicated mapping key/ })),
      { name: 'duplicate key in a PUT', method: 'PUT', path: ONE, contentType: 'application/yaml', body: `address: ${TARGET}\naddress: ${TARGET}\n`, expect: 400 },
      { name: 'duplicate key in a PATCH', method: 'PATCH', path: ONE, contentType: 'application/yaml', body: 'override-address: a.example.com\noverride-address: b.example.com\n', expect: 400 },
      { name: 'duplicate key in a token', method: 'POST', path: TOKENS, contentType: 'application/yaml', body: 'name: dup\nname: dup2\nrole: read\n', expect: 400 },
    ]);
  });

  it('__proto__, constructor and prototype keys are a 400 and pollute nothing', async () => {
    const bodies = [
      '{"__proto__":{"polluted":true},"address":"p1.example.com"}',
      '{"constructor":{"prototype":{"polluted":true}},"address":"p2.example.com"}',
      '{"address":"p3.example.com","credentials":[{"__proto__":{"vault":"v"},"repository":"r","secret":"s"}]}',
      '{"address":"p4.example.com","prototype":{"x":1}}',
      '{"address":"p5.example.com","__proto__":null}',
    ];
    await run([
      ...bodies.map((body, i): HostileCase => ({ name: `prototype key in JSON ${i}`, method: 'POST', path: LIST, contentType: 'application/json', body, expect: 400 })),
      { name: 'prototype key in YAML', method: 'POST', path: LIST, contentType: 'application/yaml', body: '__proto__: {polluted: true}\naddress: p6.example.com\n', expect: 400 },
      { name: 'prototype key in a merge patch', method: 'PATCH', path: ONE, contentType: 'application/merge-patch+json', body: '{"__proto__":{"ca-cert":"x"}}', expect: 400 },
      { name: 'prototype key in a YAML patch entry', method: 'PATCH', path: ONE, contentType: 'application/yaml', body: 'credentials:\n  - repository: "*"\n    __proto__: {secret: x}\n', expect: 400 },
      { name: 'constructor in a PUT', method: 'PUT', path: ONE, contentType: 'application/json', body: `{"address":"${TARGET}","constructor":{"name":"x"}}`, expect: 400 },
      { name: 'JSON Patch into __proto__', method: 'PATCH', path: ONE, contentType: 'application/json-patch+json', body: '[{"op":"add","path":"/__proto__/polluted","value":true}]', expect: 400 },
      { name: 'JSON Patch into constructor.prototype', method: 'PATCH', path: ONE, contentType: 'application/json-patch+json', body: '[{"op":"add","path":"/constructor/prototype/polluted","value":true}]', expect: 400 },
      { name: 'JSON Patch adding __proto__', method: 'PATCH', path: ONE, contentType: 'application/json-patch+json', body: '[{"op":"add","path":"/__proto__","value":{"polluted":true}}]', expect: 400 },
      { name: '__proto__ as a query parameter', method: 'GET', path: `${LIST}?__proto__=1`, expect: 400 },
      { name: '__proto__[x] as a query parameter', method: 'GET', path: `${LIST}?__proto__[polluted]=1`, expect: 400 },
      { name: 'constructor as a query parameter', method: 'GET', path: `${LIST}?constructor=1`, expect: 400 },
      { name: 'fields=__proto__', method: 'GET', path: `${LIST}?fields=__proto__`, expect: 400, message: /unknown field '__proto__'/ },
      { name: 'fields=constructor', method: 'GET', path: `${ONE}?fields=constructor`, expect: 400, message: /unknown field/ },
      { name: 'fields=toString', method: 'GET', path: `${STATE}?fields=toString`, expect: 400, message: /unknown field/ },
      { name: 'fields=credentials/__proto__', method: 'GET', path: `${LIST}?fields=credentials/__proto__`, expect: 400 },
      { name: 'fields=hasOwnProperty on tokens', method: 'GET', path: `${TOKENS}?fields=hasOwnProperty`, expect: 400 },
      { name: '__proto__ as an address', method: 'GET', path: `${LIST}/__proto__`, expect: 400 },
      { name: '__proto__ as a token name', method: 'DELETE', path: `${TOKENS}/__proto__`, expect: 400 },
      { name: 'constructor as an address', method: 'GET', path: `${LIST}/constructor`, expect: 404 },
      { name: 'constructor as a state address', method: 'GET', path: `${STATE}/constructor`, expect: 404 },
      { name: 'PATCH of constructor', method: 'PATCH', path: `${LIST}/constructor`, contentType: 'application/json', body: '{}', expect: 404 },
      { name: 'DELETE of constructor', method: 'DELETE', path: `${LIST}/constructor`, expect: 404 },
      { name: 'a token called constructor', method: 'GET', path: `${TOKENS}/constructor`, expect: 404 },
    ]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('addresses and paths', () => {
  it('path tricks in the address are a 4xx on every verb', async () => {
    const segments = [
      '..', '.', '%2E%2E', '%2e', `${TARGET}%2F..%2F..`, '%2F', 'a%2Fb', '%00', '%252F', `${TARGET}%252F`, '%25', '%', '%zz', 'a%zz.example.com',
      '%C0%AE%C0%AE', '%FF', '[', ']', '[::1', '[::1]]', '%5B', '::1', `${TARGET};x=1`, `${TARGET}%3Bx`, 'a'.repeat(262), `${'a'.repeat(63)}.`.repeat(5),
      'a'.repeat(8000), '-a.example.com', 'a-.example.com', '*', '%2A', 'user@host', 'host:port', 'host:99999', '%20', '+', '~', "'", '"', '<script>',
    ];
    const cases: HostileCase[] = [];
    for (const [i, segment] of segments.entries()) {
      cases.push({ name: `GET of address trick ${i}`, method: 'GET', path: `${LIST}/${segment}` });
      cases.push({ name: `PUT of address trick ${i}`, method: 'PUT', path: `${LIST}/${segment}`, contentType: 'application/json', body: json({ address: TARGET }) });
      cases.push({ name: `PATCH of address trick ${i}`, method: 'PATCH', path: `${LIST}/${segment}`, contentType: 'application/json', body: '{"override-address":"x.example.com"}' });
      cases.push({ name: `DELETE of address trick ${i}`, method: 'DELETE', path: `${LIST}/${segment}` });
      cases.push({ name: `GET of state trick ${i}`, method: 'GET', path: `${STATE}/${segment}` });
    }
    await run(cases);
  });

  it('paths that leave or bend the tree are a 4xx, and a read token stays a read token', async () => {
    const cases: HostileCase[] = [
      { name: 'dot segments to the tokens', method: 'GET', path: '/v1/config/image-registry/../system/tokens', authorization: readAuth },
      { name: 'a double slash to the tokens', method: 'GET', path: '/v1/config//system/tokens', authorization: readAuth },
      { name: 'an encoded slash to the tokens', method: 'GET', path: '/v1/config/system%2Ftokens', authorization: readAuth },
      { name: 'an encoded letter to the tokens', method: 'GET', path: '/v1/config/%73ystem/tokens', authorization: readAuth },
      // Paths are case-sensitive: another case names nothing, for every role.
      { name: 'upper case to the tokens', method: 'GET', path: '/v1/config/SYSTEM/tokens', authorization: readAuth, expect: 404 },
      { name: 'mixed case to the tokens', method: 'GET', path: '/V1/Config/System/Tokens', authorization: readAuth, expect: 404 },
      { name: 'a token read in upper case', method: 'GET', path: '/v1/CONFIG/system/tokens/hostile-reader', authorization: readAuth, expect: 404 },
      { name: 'a token created in upper case', method: 'POST', path: '/v1/config/SYSTEM/tokens', authorization: readAuth, contentType: 'application/json', body: json({ name: 'escalated', role: 'admin' }), expect: 404 },
      { name: 'a write in upper case', method: 'POST', path: '/v1/CONFIG/image-registry/remote-registries', authorization: readAuth, contentType: 'application/json', body: json({ address: 'case.example.com' }), expect: 404 },
      { name: 'an admin token created in upper case', method: 'POST', path: '/V1/config/system/tokens', contentType: 'application/json', body: json({ name: 'x1', role: 'root' }), expect: 404 },
      { name: 'an operation path bent into config', method: 'POST', path: '/v1/state/../config/image-registry/remote-registries', contentType: 'application/json', body: json({ address: 'bent.example.com' }) },
      { name: 'a trailing slash on the list with PUT', method: 'PUT', path: `${LIST}/`, contentType: 'application/json', body: json({ address: TARGET }) },
      { name: 'a trailing slash on the list with DELETE', method: 'DELETE', path: `${LIST}/` },
      { name: 'an extra segment', method: 'GET', path: `${ONE}/extra` },
      { name: 'an extra segment on DELETE', method: 'DELETE', path: `${ONE}/extra` },
      { name: 'PUT on the list', method: 'PUT', path: LIST, contentType: 'application/json', body: json({ address: 'x.example.com' }), expect: 405 },
      { name: 'DELETE on the list', method: 'DELETE', path: LIST, expect: 405 },
      { name: 'PATCH on the list', method: 'PATCH', path: LIST, contentType: 'application/json', body: '{}', expect: 405 },
      { name: 'POST on an entry', method: 'POST', path: ONE, contentType: 'application/json', body: json({ address: TARGET }), expect: 405 },
      { name: 'POST on the state list', method: 'POST', path: STATE, contentType: 'application/json', body: '{}' },
      { name: 'PUT on the state', method: 'PUT', path: `${STATE}/${TARGET}`, contentType: 'application/json', body: json({ address: TARGET }) },
      { name: 'DELETE on the state', method: 'DELETE', path: `${STATE}/${TARGET}` },
      { name: 'TRACE', method: 'TRACE', path: LIST, expect: 405 },
      { name: 'an invented method', method: 'PURGE', path: ONE },
      { name: 'a path under /v1 that does not exist', method: 'GET', path: '/v1/config/nothing', expect: 404 },
      { name: 'a 4000-character path', method: 'GET', path: `/v1/${'x/'.repeat(2000)}x`, expect: 404 },
      { name: 'a 4000-character path ending in /', method: 'GET', path: `/v1/${'x/'.repeat(2000)}`, expect: 400 },
    ];
    await run(cases);
  });
});

describe('query parameters', () => {
  it('bogus parameters and values are a 400', async () => {
    const onList = [
      'bogus=1', 'validate=false', 'validate=TRUE', 'validate=1', 'validate', 'validate=true&validate=true', 'keys=yes', 'keys=', 'count=TRUE', 'keys=true&count=true',
      'count=true&fields=address', 'keys=true&fields=address', 'keys=true&keys=true', 'fields=', 'fields=a;;b', 'fields=(', 'fields=address(', 'fields=address)', 'fields=unknown',
      'fields=address/x', 'fields=address&fields=credentials', `fields=${'address;'.repeat(200)}address`, 'fields=%E0%A4%A', 'fields=address%20', 'fields=adress',
      'content=config', 'site=edge', 'fields[a]=b', 'fields[]=address', '%ff=1', `q=${'x'.repeat(10_000)}`, 'a=1&a=2', '=1', 'validate=true%00', 'keys=true%00',
    ];
    const onState = ['content=both', 'content=', 'content=config&content=all', 'site=', `site=${'a'.repeat(64)}`, 'site=-a', 'site=UPPER', 'site=a&site=b', 'validate=true', 'fields=revision/x'];
    const onOne = ['count=true', 'keys=true', 'fields=credentials(nope)', 'validate=yes', 'content=config'];
    await run([
      ...onList.map((q, i): HostileCase => ({ name: `list query ${i}`, method: 'GET', path: `${LIST}?${q}`, expect: 400 })),
      ...onState.map((q, i): HostileCase => ({ name: `state query ${i}`, method: 'GET', path: `${STATE}?${q}`, expect: 400 })),
      ...onOne.map((q, i): HostileCase => ({ name: `entry query ${i}`, method: 'GET', path: `${ONE}?${q}`, expect: 400 })),
      { name: 'fields on a POST', method: 'POST', path: `${LIST}?fields=address`, contentType: 'application/json', body: json({ address: 'q1.example.com' }), expect: 400 },
      { name: 'keys on a POST', method: 'POST', path: `${LIST}?keys=true`, contentType: 'application/json', body: json({ address: 'q2.example.com' }), expect: 400 },
      { name: 'validate twice on a DELETE', method: 'DELETE', path: `${ONE}?validate=true&validate=true`, expect: 400 },
      { name: 'validate=false on a PUT', method: 'PUT', path: `${ONE}?validate=false`, contentType: 'application/json', body: json({ address: TARGET }), expect: 400 },
      { name: 'a bogus parameter on a PATCH', method: 'PATCH', path: `${ONE}?force=true`, contentType: 'application/json', body: '{"override-address":"q3.example.com"}', expect: 400 },
      { name: 'a bogus parameter on the tokens', method: 'POST', path: `${TOKENS}?role=admin`, contentType: 'application/json', body: json({ name: 'q4', role: 'read' }), expect: 400 },
    ]);
  });
});

describe('preconditions', () => {
  it('If-Match tags that name no current revision are a 412, on every write and on GET', async () => {
    const revision = Number(targetEtag.replace(/"/g, ''));
    const tags: (string | string[])[] = [
      '"0"', `"${revision + 1000}"`, `W/"${revision}"`, String(revision), '""', '"abc"', '"-1"', '"1e3"', `"${revision}.0"`, `" ${revision}"`, '"99999999999999999999"',
      `'${revision}'`, 'W/*', '**', 'null', `${'"0", '.repeat(100)}"${revision + 1000}"`, 'x'.repeat(8000), ['"0"', '"999999"'], ['W/"1"', 'nonsense'],
    ];
    const registry = json({ address: TARGET });
    const cases: HostileCase[] = [];
    for (const [i, tag] of tags.entries()) {
      const headers = { 'if-match': tag };
      cases.push({ name: `PUT with If-Match ${i}`, method: 'PUT', path: ONE, contentType: 'application/json', body: registry, headers, expect: 412 });
      cases.push({ name: `PATCH with If-Match ${i}`, method: 'PATCH', path: ONE, contentType: 'application/json', body: '{"override-address":"e.example.com"}', headers, expect: 412 });
      cases.push({ name: `DELETE with If-Match ${i}`, method: 'DELETE', path: ONE, headers, expect: 412 });
      cases.push({ name: `GET with If-Match ${i}`, method: 'GET', path: ONE, headers, expect: 412 });
    }
    cases.push(
      { name: 'PUT with If-None-Match *', method: 'PUT', path: ONE, contentType: 'application/json', body: registry, headers: { 'if-none-match': '*' }, expect: 412 },
      { name: 'PUT with If-None-Match of the current tag', method: 'PUT', path: ONE, contentType: 'application/json', body: registry, headers: { 'if-none-match': targetEtag }, expect: 412 },
      { name: 'PUT with a weak If-None-Match of the current tag', method: 'PUT', path: ONE, contentType: 'application/json', body: registry, headers: { 'if-none-match': `W/${targetEtag}` }, expect: 412 },
      { name: 'PUT with both headers, one failing', method: 'PUT', path: ONE, contentType: 'application/json', body: registry, headers: { 'if-match': targetEtag, 'if-none-match': targetEtag }, expect: 412 },
      { name: 'If-Match on a PUT that would create', method: 'PUT', path: `${LIST}/new-one.example.com`, contentType: 'application/json', body: json({ address: 'new-one.example.com' }), headers: { 'if-match': '*' }, expect: 412 },
      { name: 'If-Match on a PATCH of nothing', method: 'PATCH', path: `${LIST}/nothing.example.com`, contentType: 'application/json', body: '{}', headers: { 'if-match': targetEtag }, expect: 404 },
      { name: 'If-Match on a DELETE of nothing', method: 'DELETE', path: `${LIST}/nothing.example.com`, headers: { 'if-match': '*' }, expect: 404 },
    );
    await run(cases);
  });
});

describe('media types', () => {
  it('wrong content types and charsets are a 415, even with a valid body', async () => {
    const types = [
      'text/plain', 'application/xml', 'text/html', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream',
      'application/jsonx', 'application/json-seq', 'json', 'application/', '/', ';', 'application/json; charset=latin1', 'application/json; charset=utf-16',
      'application/yaml; charset=iso-8859-1', 'text/yaml; charset=ebcdic', 'application/merge-patch+json', 'application/json-patch+json', 'image/png', `application/${'x'.repeat(2000)}`,
    ];
    const cases: HostileCase[] = types.map((contentType, i) => ({ name: `POST as ${contentType.slice(0, 40)}`, method: 'POST', path: LIST, contentType, body: json({ address: `mt${i}.example.com` }), expect: 415 }));
    cases.push(
      { name: 'POST without a content type', method: 'POST', path: LIST, body: json({ address: 'mt-none.example.com' }), expect: 415 },
      { name: 'PUT as text/plain', method: 'PUT', path: ONE, contentType: 'text/plain', body: json({ address: TARGET }), expect: 415 },
      { name: 'PUT as a JSON Patch', method: 'PUT', path: ONE, contentType: 'application/json-patch+json', body: '[]', expect: 415 },
      { name: 'PATCH as text/plain', method: 'PATCH', path: ONE, contentType: 'text/plain', body: '{}', expect: 415 },
      { name: 'PATCH as XML', method: 'PATCH', path: ONE, contentType: 'application/xml', body: '<x/>', expect: 415 },
      { name: 'a token as form data', method: 'POST', path: TOKENS, contentType: 'application/x-www-form-urlencoded', body: 'name=form&role=admin', expect: 415 },
      { name: 'a write with an empty body', method: 'POST', path: LIST, contentType: 'application/json', body: '', expect: 400 },
      { name: 'a PUT with no body', method: 'PUT', path: ONE, expect: [400, 415] },
      { name: 'a PATCH with no body', method: 'PATCH', path: ONE, contentType: 'application/merge-patch+json', expect: [400, 415] },
    );
    await run(cases);
  });

  it('an Accept that allows neither JSON nor YAML is a 406, answered in JSON', async () => {
    const accepts = ['text/html', 'application/xml', 'image/*', 'application/json;q=0, application/yaml;q=0', 'text/plain, text/csv'];
    await run([
      ...accepts.map((accept, i): HostileCase => ({ name: `GET list accepting ${i}`, method: 'GET', path: LIST, accept, expect: 406 })),
      ...accepts.map((accept, i): HostileCase => ({ name: `GET entry accepting ${i}`, method: 'GET', path: ONE, accept, expect: 406 })),
      { name: 'GET state accepting HTML', method: 'GET', path: STATE, accept: 'text/html', expect: 406 },
      { name: 'a broken write accepting HTML', method: 'POST', path: LIST, accept: 'text/html', contentType: 'application/json', body: '{', expect: 400 },
    ]);
  });
});

describe('JSON Patch', () => {
  it('bad JSON Patch documents are a 4xx and change nothing', async () => {
    const patches: [string, string, number][] = [
      ['not an array', '{}', 400], ['an empty operation', '[{}]', 400], ['an unknown op', '[{"op":"nope","path":"/address"}]', 400], ['no path', '[{"op":"remove"}]', 400],
      ['a path without a slash', '[{"op":"remove","path":"address"}]', 400], ['add without a value', '[{"op":"add","path":"/override-address"}]', 400],
      ['move from nowhere', '[{"op":"move","from":"/nothing","path":"/x"}]', 400], ['copy onto the key', '[{"op":"copy","from":"/override-address","path":"/address"}]', 400],
      ['remove the key', '[{"op":"remove","path":"/address"}]', 400], ['replace the key', `[{"op":"replace","path":"/address","value":"moved.example.com"}]`, 400],
      ['a failed test', '[{"op":"test","path":"/address","value":"somewhere.else"}]', 409], ['a huge array index', '[{"op":"add","path":"/credentials/99999999999","value":{}}]', 400],
      ['a negative array index', '[{"op":"add","path":"/credentials/-1","value":{}}]', 400], ['a bad escape', '[{"op":"remove","path":"/credentials/0/repository~2"}]', 400],
      ['replace the whole document with another key', '[{"op":"replace","path":"","value":{"address":"root.example.com"}}]', 400],
      ['replace the whole document with null', '[{"op":"replace","path":"","value":null}]', 400], ['remove the whole document', '[{"op":"remove","path":""}]', 400],
      ['an extra member', '[{"op":"remove","path":"/override-address","extra":1}]', 400], ['op as a number', '[{"op":1,"path":"/address"}]', 400],
      ['path as a number', '[{"op":"remove","path":1}]', 400], ['1001 operations', json(Array.from({ length: 1001 }, () => ({ op: 'test', path: '/address', value: TARGET }))), 400],
      ['a patch that leaves an invalid registry', '[{"op":"add","path":"/credentials/-","value":{"repository":"x"}}]', 400],
      ['a null operation', '[null]', 400], ['a string operation', '["remove /address"]', 400], ['a 2000-character path', json([{ op: 'remove', path: `/${'x'.repeat(2000)}` }]), 400],
      ['a valid op after a failing one', '[{"op":"remove","path":"/nothing"},{"op":"remove","path":"/override-address"}]', 400],
    ];
    await run(patches.map(([name, body, expect]) => ({ name: `JSON Patch: ${name}`, method: 'PATCH', path: ONE, contentType: 'application/json-patch+json', body, expect })));
  });
});

describe('authorization', () => {
  it('bad Authorization headers are a 401 with WWW-Authenticate, and a read token cannot write', async () => {
    const token = berth.adminToken;
    const headers: (string | null | string[])[] = [
      null, '', 'Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `Bearer ${token}x`, `Bearer x${token}`, `Bearer ${token} extra`, `Token ${token}`, token,
      `Bearer ${token.toUpperCase()}`, `Bearer "${token}"`, `Bearer ${'a'.repeat(5000)}`, `Bearer\t`, `Bearer,${token}`, 'Digest username="admin"', 'Bearer null',
      'Bearer undefined', 'Negotiate YIIC', `Bearer ${token.slice(0, -1)}`, ['Bearer bogus-token-1234567890', `Bearer ${token}`], `Bearer ${token}\u00ff`,
    ];
    const targets: [string, string, string | undefined][] = [
      ['GET', LIST, undefined], ['POST', LIST, json({ address: 'auth.example.com' })], ['DELETE', ONE, undefined], ['GET', TOKENS, undefined],
    ];
    const cases: HostileCase[] = [];
    for (const [i, authorization] of headers.entries()) {
      for (const [method, path, body] of targets) {
        const auth = Array.isArray(authorization) ? { headers: { authorization } } : { authorization };
        cases.push({
          name: `${method} ${path} with Authorization ${i}`, method, path, ...auth, expect: 401,
          ...(body ? { contentType: 'application/json', body } : {}),
        });
      }
    }
    const answers = await run(cases);
    for (const res of answers) assert.match(String(res.headers['www-authenticate']), /^Bearer/);

    await run([
      { name: 'a read token POSTs', method: 'POST', path: LIST, authorization: readAuth, contentType: 'application/json', body: json({ address: 'ro.example.com' }), expect: 403 },
      { name: 'a read token PUTs', method: 'PUT', path: ONE, authorization: readAuth, contentType: 'application/json', body: json({ address: TARGET }), expect: 403 },
      { name: 'a read token PATCHes', method: 'PATCH', path: ONE, authorization: readAuth, contentType: 'application/json', body: '{}', expect: 403 },
      { name: 'a read token DELETEs', method: 'DELETE', path: ONE, authorization: readAuth, expect: 403 },
      { name: 'a read token lists tokens', method: 'GET', path: TOKENS, authorization: readAuth, expect: 403 },
      { name: 'a read token deletes itself', method: 'DELETE', path: `${TOKENS}/hostile-reader`, authorization: readAuth, expect: 403 },
      { name: 'a read token with validate=true', method: 'DELETE', path: `${ONE}?validate=true`, authorization: readAuth, expect: 403 },
    ]);
  });
});

describe('random input (fast-check)', () => {
  const NUM_RUNS = 60;
  const contentTypes = ['application/json', 'application/yaml', 'text/yaml', 'application/x-yaml'];
  /** Parses like Berth does; undefined when it does not parse. */
  const parsed = (text: string, contentType: string): unknown => {
    try {
      return /json/.test(contentType) ? JSON.parse(text) : yaml.load(text, { schema: yaml.CORE_SCHEMA });
    } catch {
      return undefined;
    }
  };
  const registryAnswer = componentSchema('RemoteRegistryListAnswer');
  const fieldsWouldWork = (text: string) => {
    try {
      checkFields(parseFields(text), registryAnswer);
      return true;
    } catch {
      return false;
    }
  };
  const send = (c: HostileCase) => run([c]);

  it('random JSON values as a new registry, as JSON or YAML', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom(...contentTypes), async (value, contentType) => {
        fc.pre(!validRegistry(value));
        await send({ name: `random value ${json(value).slice(0, 80)}`, method: 'POST', path: LIST, contentType, body: /json/.test(contentType) ? json(value) : asYaml(value), expect: 400 });
      }),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    );
  });

  it('random objects with registry-like fields as a PUT or a merge PATCH of the target', async () => {
    const field = fc.oneof(fc.constantFrom('address', 'override-address', 'ca-cert', 'credentials', 'repository', 'vault', 'secret'), fc.string({ maxLength: 8 }));
    const value = fc.oneof(fc.constant(TARGET), fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null), fc.array(fc.dictionary(field, fc.string({ maxLength: 6 }), { maxKeys: 4 }), { maxLength: 3 }));
    await fc.assert(
      fc.asyncProperty(fc.dictionary(field, value, { maxKeys: 5 }), fc.constantFrom('PUT', 'PATCH'), fc.constantFrom(...contentTypes), async (body, method, contentType) => {
        fc.pre(method === 'PUT' ? !validRegistry(body) : !validRegistryPatch(body));
        await send({ name: `random ${method} ${json(body).slice(0, 80)}`, method, path: ONE, contentType, body: /json/.test(contentType) ? json(body) : asYaml(body), expect: 400 });
      }),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    );
  });

  it('random text and bytes as a body', async () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')));
    await fc.assert(
      fc.asyncProperty(text, fc.constantFrom(...contentTypes, 'application/merge-patch+json'), fc.constantFrom('POST', 'PUT', 'PATCH'), async (body, contentType, method) => {
        const value = parsed(body, contentType);
        fc.pre(body.length > 0 && (method === 'PATCH' ? !validRegistryPatch(value) : !validRegistry(value)));
        await send({ name: `random text ${json(body).slice(0, 80)}`, method, path: method === 'POST' ? LIST : ONE, contentType, body, expect: [400, 415] });
      }),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    );
  });

  it('random JSON Patch documents with a malformed path', async () => {
    const operation = fc.record({
      op: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test'),
      path: fc.string({ maxLength: 20 }).filter((p) => p !== '' && !p.startsWith('/')),
      value: fc.jsonValue({ maxDepth: 2 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 4 }), async (operations) => {
        await send({ name: `random JSON Patch ${json(operations).slice(0, 80)}`, method: 'PATCH', path: ONE, contentType: 'application/json-patch+json', body: json(operations), expect: 400 });
      }),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    );
  });

  it('random fields expressions that do not select known fields', async () => {
    const fieldText = fc.string({ unit: fc.constantFrom('a', 'd', 'r', 'e', 's', '-', '/', ';', ',', '(', ')', '_', '.', '1', ' ', '%', '*'), minLength: 1, maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(fieldText, fc.constantFrom(LIST, ONE), async (text, path) => {
        fc.pre(!fieldsWouldWork(text));
        await send({ name: `random fields '${text}'`, method: 'GET', path: `${path}?fields=${encodeURIComponent(text)}`, expect: 400 });
      }),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    );
  });

  it('random Authorization headers', async () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(printable, fc.boolean(), async (credential, asBearer) => {
        fc.pre(credential !== berth.adminToken && credential !== readAuth.slice(7));
        await send({ name: `random Authorization '${credential}'`, method: 'GET', path: LIST, authorization: asBearer ? `Bearer ${credential}` : credential, expect: 401 });
      }),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    );
  });

  it('random addresses in the path', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), fc.constantFrom('GET', 'DELETE', 'PATCH'), async (address, method) => {
        fc.pre(address !== TARGET && address !== 'other.example.com:5000');
        await send({
          name: `random address ${json(address)}`, method, path: `${LIST}/${encodeURIComponent(address)}`,
          ...(method === 'PATCH' ? { contentType: 'application/json', body: '{"override-address":"random.example.com"}' } : {}),
          expect: [400, 404],
        });
      }),
      { numRuns: NUM_RUNS, includeErrorInReport: true },
    );
  });
});

describe('afterwards', () => {
  it('at least 200 hand-made hostile requests were sent, and more random ones', (t) => {
    const random = allCases.filter((c) => c.name.startsWith('random ')).length;
    t.diagnostic(`${allCases.length - random} hand-made and ${random} random hostile requests`);
    assert.ok(allCases.length - random >= 200, `only ${allCases.length - random} hand-made requests`);
    assert.ok(random >= 200, `only ${random} random requests`);
  });

  it('the store is unchanged: the list, the state with its revisions, the tokens, the target and its ETag', async () => {
    assert.deepEqual(await snapshot(), before_);
    assert.equal(before_.target.etag, targetEtag);
  });

  it('nothing hostile reached the log as an unexpected error', async () => {
    const errors = berth.output().split('\n').filter((line) => /"level":(50|60)/.test(line));
    assert.deepEqual(errors, []);
  });
});
