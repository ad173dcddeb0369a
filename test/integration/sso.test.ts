// Single sign-on against a real OpenID Provider (oidc-provider in its own process, TLS from a test CA): people sign
// on with the device flow (the CLI's device-login module, the test filling in the provider's pages), then call Berth
// over plain HTTP with the provider's JWT access tokens. Roles by group, 403 without one, /v2 with skopeo, token
// expiry and refresh, key rotation, hand-made and generated bad tokens, and the provider going away (last).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac, createPublicKey, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { cleanEnv, exitOf, spawnBerth, startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api, errorMessage, type ApiResponse } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { eventually } from '../helpers/eventually.js';
import { berthTrusting, newSigningKey, startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { registerSecretValue } from '../helpers/secret-values.js';
import { buildTestImage, readOciLayoutTag, skopeoCopy, skopeoInspectRaw, writeOciLayout } from '../helpers/skopeo.js';
import { accessToken, deviceLogin, readSsoTarget, withAccessToken, type SsoTarget } from '../../src/cli/sso/device-login.js';

const REGISTRIES = '/v1/config/image-registry/remote-registries';
const STATES = '/v1/state/image-registry/remote-registries';
const ROLES = 'admin=berth-admins,operator=berth-ops,read=berth-readers';
const password = (user: string) => `${user}-pw-${randomBytes(6).toString('hex')}`;
const USERS = {
  alice: { password: password('alice'), groups: ['berth-readers', 'berth-admins'], username: 'alice' },
  oscar: { password: password('oscar'), groups: ['berth-ops'], username: 'oscar' },
  rita: { password: password('rita'), groups: ['berth-readers'], username: 'rita' },
  nina: { password: password('nina'), groups: ['marketing'], username: 'nina' },
};
type User = keyof typeof USERS;

let provider: OidcProvider;
let berth: BerthProcess;
let target: SsoTarget;
let sessions: string;
const sessionFile = (user: User) => join(sessions, `${user}.json`);
/** The current access token of each user, as the CLI would have it. */
const tokens = {} as Record<User, string>;

/** Every real token is watched for in Berth's log (and its signature alone, the part that makes it usable). */
function watch(token: string): string {
  registerSecretValue(token);
  const signature = token.split('.')[2] ?? '';
  if (signature.length >= 16) registerSecretValue(signature);
  return token;
}

/** Signs on as `user` with the device flow, playing the person in the provider's pages. */
async function signOn(user: User): Promise<string> {
  let approval: Promise<void> | undefined;
  const session = await deviceLogin({
    ...target,
    caCertPem: provider.ca.certPem,
    sessionFile: sessionFile(user),
    prompt: ({ verificationUri, userCode }) => {
      approval = provider.approveDeviceLogin(verificationUri, userCode, user, USERS[user].password);
    },
  });
  await approval;
  return watch(session.accessToken);
}

const api = (token: string) => new Api(berth.url, token, assertMatchesContract);
const as = (user: User) => api(tokens[user]);

function assertUnauthorized(res: ApiResponse, message?: RegExp): void {
  assert.equal(res.status, 401, res.text);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
  assert.ok(errorMessage(res).length > 0, 'an error body');
  if (message) assert.match(errorMessage(res), message);
}

/** Berth's output once every line logged so far has arrived: a marked request's log line comes after all of them. */
async function settledOutput(): Promise<string> {
  const marker = `settle-${randomBytes(6).toString('hex')}`;
  await fetch(`${berth.url}/healthz`, { headers: { 'x-request-id': marker } });
  return eventually('the log caught up', async () => berth.output().includes(marker) && berth.output());
}

const errorLinesOf = (output: string) => output.split('\n').filter((line) => /"level":(50|60)/.test(line));

before(async () => {
  provider = await startOidcProvider({ users: USERS, accessTokenTtlSeconds: 300 });
  for (const user of Object.values(USERS)) registerSecretValue(user.password);
  berth = await startBerth({ env: berthTrusting(provider, ROLES) });
  sessions = mkdtempSync(join(tmpdir(), 'berth-sso-sessions-'));
});

after(async () => {
  assert.equal(await berth?.stop(), 0);
  await provider?.stop();
  if (sessions) rmSync(sessions, { recursive: true, force: true });
});

describe('single sign-on', () => {
  it('Berth tells the CLI where to sign on; people sign on with the device flow and keep their tokens 0600', async () => {
    const metadata = await fetch(`${berth.url}/.well-known/oauth-protected-resource`);
    assert.equal(metadata.status, 200);
    target = await readSsoTarget(berth.url);
    assert.deepEqual(target, { issuer: provider.issuer, clientId: provider.clientId, audience: provider.audience });
    const users = Object.keys(USERS) as User[];
    const signed = await Promise.all(users.map((user) => signOn(user)));
    users.forEach((user, i) => (tokens[user] = signed[i]!));
    for (const user of users) assert.equal(statSync(sessionFile(user)).mode & 0o777, 0o600, user);
    const claims = decodeJwt(tokens.alice);
    assert.equal(decodeProtectedHeader(tokens.alice).typ, 'at+jwt');
    assert.deepEqual([claims.iss, claims.aud, claims.sub, claims.groups], [provider.issuer, provider.audience, 'alice', USERS.alice.groups]);
  });

  it('the highest role of a user\'s groups decides; a user in no mapped group gets 403 naming the groups', async () => {
    const registry = { address: 'sso.example.com', credentials: [] };
    const created = await as('alice').put(`${REGISTRIES}/${registry.address}`, registry);
    assert.equal(created.status, 201, created.text);
    const state = (await as('rita').get(`${STATES}/${registry.address}`)).body as Record<string, unknown>;
    assert.deepEqual(state['last-change-by'], { kind: 'sso', name: 'alice', subject: 'alice', issuer: provider.issuer, 'request-id': created.headers.get('x-request-id') });

    for (const user of ['oscar', 'rita'] as const) {
      assert.equal((await as(user).get(REGISTRIES)).status, 200, user);
      const write = await as(user).patch(`${REGISTRIES}/${registry.address}`, { 'override-address': 'x.example.com' });
      assert.equal(write.status, 403, `${user}: ${write.text}`);
      assert.match(errorMessage(write), new RegExp(`role '${user === 'oscar' ? 'operator' : 'read'}' may not PATCH`));
    }
    // Operators run operations, readers do not; the tower checks the role before it forwards anything to a site.
    const operation = `${STATES}/${registry.address}/verify-credentials?site=nowhere`;
    assert.equal((await as('rita').post(operation, {})).status, 403);
    assert.equal((await as('oscar').post(operation, {})).status, 404, 'past the role check, the unknown site');

    const nina = await as('nina').get(REGISTRIES);
    assert.equal(nina.status, 403, nina.text);
    assert.match(errorMessage(nina), /'nina' is in none of the groups Berth gives a role to: berth-admins \(admin\), berth-ops \(operator\), berth-readers \(read\)/);
    // Berth's own tokens keep working beside single sign-on.
    assert.equal((await api(berth.adminToken).get(REGISTRIES)).status, 200);
  });

  it('/v2 takes the token as bearer or Basic password: skopeo pushes as an operator and pulls as a reader', async () => {
    const work = mkdtempSync(join(tmpdir(), 'berth-sso-skopeo-'));
    try {
      writeOciLayout(join(work, 'source'), await buildTestImage(), 'v1');
      const host = new URL(berth.url).host;
      const creds = (user: User) => ({ tlsVerify: false, creds: { username: user, password: tokens[user] } });
      await skopeoCopy(`oci:${join(work, 'source')}:v1`, `docker://${host}/sso/app:v1`, { all: true, dest: creds('oscar') });
      await skopeoCopy(`docker://${host}/sso/app:v1`, `oci:${join(work, 'pulled')}:v1`, { all: true, src: creds('rita') });
      assert.equal(readOciLayoutTag(join(work, 'pulled'), 'v1').digest, readOciLayoutTag(join(work, 'source'), 'v1').digest);
      await assert.rejects(skopeoCopy(`oci:${join(work, 'source')}:v1`, `docker://${host}/sso/other:v1`, { all: true, dest: creds('rita') }), /denied|403|may only pull/i);
      await assert.rejects(skopeoInspectRaw(`docker://${host}/sso/app:v1`, creds('nina')), /denied|403|none of the groups/i);
      const bearer = await fetch(`${berth.url}/v2/sso/app/tags/list`, { headers: { authorization: `Bearer ${tokens.rita}` } });
      assert.equal(bearer.status, 200);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('a token expired by Berth\'s clock is 401; the session refreshes to a working token, silently when it runs low', async () => {
    // The provider's clock 10 minutes behind: what it issues now expired 5 minutes ago (beyond the 30 s skew).
    await provider.setClock(-600);
    const expired = watch(await accessToken(sessionFile('rita'), { caCertPem: provider.ca.certPem, forceRefresh: true }));
    await provider.setClock(0);
    assertUnauthorized(await api(expired).get(REGISTRIES), /access token has expired/);
    // What the CLI does on a 401: refresh once and call again.
    let calls = 0;
    const answer = await withAccessToken(sessionFile('rita'), { caCertPem: provider.ca.certPem }, (token) => {
      calls++;
      if (calls === 2) watch(token);
      return api(token).get(REGISTRIES);
    });
    assert.deepEqual([calls, answer.status], [2, 200]);
    // A token with time left is used as kept; one with less than asked for is refreshed without anyone noticing.
    const kept = await accessToken(sessionFile('rita'), { caCertPem: provider.ca.certPem });
    const renewed = watch(await accessToken(sessionFile('rita'), { caCertPem: provider.ca.certPem, minValiditySeconds: 3600 }));
    assert.notEqual(renewed, kept);
    assert.equal((await api(renewed).get(REGISTRIES)).status, 200);
    tokens.rita = renewed;
  });

  it('keys rotated at the provider: the new key\'s tokens work once Berth fetches it, the old key\'s still do', async () => {
    const kid = await provider.rotateKeys();
    const rotated = watch(await accessToken(sessionFile('oscar'), { caCertPem: provider.ca.certPem, forceRefresh: true }));
    assert.equal(decodeProtectedHeader(rotated).kid, kid);
    // Within the cooldown after Berth's last key fetch, a new kid is refused as unknown; after it, fetched and taken.
    const status = await eventually('the new key accepted', async () => {
      const res = await api(rotated).get(REGISTRIES);
      assert.ok([200, 401].includes(res.status), res.text);
      return res.status === 200 && res.status;
    });
    assert.equal(status, 200);
    assert.equal((await as('alice').get(REGISTRIES)).status, 200, 'the token of the previous key');
    tokens.oscar = rotated;
  });

  it('hand-made tokens: wrong key, alg none, HS256 with the public key, expired, wrong aud or iss, no kid, bad typ', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: provider.issuer, aud: provider.audience, sub: 'alice', groups: ['berth-admins'], iat: now, exp: now + 300 };
    const key = provider.keys[0]!;
    const stranger = await newSigningKey();
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    // The classic confusion: HMAC keyed with the provider's public key (its PEM), which anyone can read.
    const publicPem = createPublicKey({ key: { kty: key.kty!, n: key.n!, e: key.e! }, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const unsigned = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })}.${b64(claims)}`;
    const hs256 = `${unsigned}.${createHmac('sha256', publicPem).update(unsigned).digest('base64url')}`;
    const cases: [string, string, RegExp][] = [
      ['signed by another key under the provider\'s kid', await provider.sign(claims, {}, { ...stranger, kid: key.kid }), /signature does not verify/],
      ['alg none', `${b64({ alg: 'none', typ: 'at+jwt', kid: key.kid })}.${b64(claims)}.`, /algorithm Berth does not accept/],
      ['HS256 keyed with the public key', hs256, /algorithm Berth does not accept/],
      ['expired 10 minutes ago', await provider.sign({ ...claims, iat: now - 900, exp: now - 600 }), /expired/],
      ['not yet valid', await provider.sign({ ...claims, nbf: now + 600 }), /not valid yet/],
      ['for another audience', await provider.sign({ ...claims, aud: 'https://other.test' }), /audience/],
      ['from another issuer', await provider.sign({ ...claims, iss: 'https://evil.test' }), /not from the issuer/],
      ['without a kid', await provider.sign(claims, { kid: undefined }), /names no signing key/],
      ['typed as a logout token', await provider.sign(claims, { typ: 'logout+jwt' }), /type \(typ\)/],
      ['without sub', await provider.sign({ ...claims, sub: undefined }), /lacks the 'sub' claim/],
      ['without exp', await provider.sign({ ...claims, exp: undefined }), /lacks the 'exp' claim/],
    ];
    for (const [name, token, message] of cases) {
      assertUnauthorized(await api(watch(token)).get(REGISTRIES), message);
      const v2 = await fetch(`${berth.url}/v2/`, { headers: { authorization: `Basic ${Buffer.from(`u:${token}`).toString('base64')}` } });
      assert.equal(v2.status, 401, `${name} on /v2`);
    }
    // Within the clock skew a token is still good; a groups claim that is no list of names gives no role.
    assert.equal((await api(watch(await provider.sign({ ...claims, exp: now - 10 }))).get(REGISTRIES)).status, 200);
    const odd = await api(watch(await provider.sign({ ...claims, groups: 42 }))).get(REGISTRIES);
    assert.equal(odd.status, 403, odd.text);
  });

  it('generated malformed JWTs (>= 100) are 401 with the error body, no error-level log line, no key fetch flood', async (t) => {
    const errorsBefore = errorLinesOf(await settledOutput()).length;
    const fetchesBefore = await provider.keySetRequests();
    const started = Date.now();
    const now = Math.floor(Date.now() / 1000);
    const good = { iss: provider.issuer, aud: provider.audience, sub: 'alice', groups: ['berth-admins'], exp: now + 300 };
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    const real = tokens.alice;
    const [h, p, s] = real.split('.') as [string, string, string];
    const jsonValue = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
    const segment = fc.oneof(fc.base64String({ maxLength: 40 }), fc.string({ maxLength: 40 }).map(b64), fc.constantFrom('', '_', '-', 'AAAA', h, p, s));
    const shapes = fc.oneof(
      // Random segments, including ones that are no base64url JSON at all.
      fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
      // A header of any shape over the real payload and signature.
      fc.record({ alg: jsonValue, kid: jsonValue, typ: jsonValue, crit: fc.option(fc.array(fc.string(), { maxLength: 2 }), { nil: undefined }) }, { requiredKeys: [] })
        .map((header) => `${b64(JSON.stringify(header))}.${p}.${s}`),
      // The real header and signature over any payload: the signature no longer matches.
      fc.dictionary(fc.constantFrom('iss', 'aud', 'sub', 'exp', 'nbf', 'groups', 'iat'), jsonValue).map((claims) => `${h}.${b64(JSON.stringify({ ...good, ...claims }))}.${s}`),
      // One character of the real token changed (never the dots), or the signature cut short.
      fc.tuple(fc.nat(real.length - 1), fc.constantFrom('A', 'b', '-', '_', '0')).filter(([i]) => real[i] !== '.').map(([i, c]) => real.slice(0, i) + c + real.slice(i + 1)).filter((t) => t !== real),
      fc.nat(s.length - 1).map((n) => `${h}.${p}.${s.slice(0, n)}`),
      // Well-formed and signed by a stranger, with a kid Berth has never seen: the flood that must not reach the provider.
      fc.constant(null).map(() => `unknown-kid:${randomBytes(4).toString('hex')}`),
    );
    const stranger = await generateKeyPair('RS256', { extractable: true });
    const strangerJwk = await exportJWK(stranger.privateKey);
    const samples = fc.sample(shapes, { numRuns: 150, seed: 12 });
    let unknownKids = 0;
    for (const sample of samples) {
      const token = sample.startsWith('unknown-kid:')
        ? (unknownKids++, await provider.sign(good, { kid: sample }, { ...strangerJwk, kid: sample, alg: 'RS256' }))
        : sample;
      if (token.length >= 16) registerSecretValue(token);
      const res = await api(token).get(REGISTRIES);
      assertUnauthorized(res);
    }
    assert.ok(unknownKids >= 10, `${unknownKids} tokens with unknown kids`);
    assert.deepEqual(errorLinesOf(await settledOutput()).slice(errorsBefore), [], 'no error-level log line');
    // Unknown kids make Berth fetch the key set at most once per 5 s cooldown, however many arrive.
    const fetches = (await provider.keySetRequests()) - fetchesBefore;
    t.diagnostic(`${samples.length} malformed tokens (${unknownKids} with unknown kids) in ${Date.now() - started} ms: ${fetches} key set fetch(es)`);
    assert.ok(fetches <= 1 + Math.ceil((Date.now() - started) / 5000), `${fetches} key set fetches for ${unknownKids} unknown kids`);
  });

  it('the provider gone: tokens of keys Berth has keep working; a new kid is 503 naming the issuer', async () => {
    await provider.rotateKeys();
    const unseen = watch(await accessToken(sessionFile('alice'), { caCertPem: provider.ca.certPem, forceRefresh: true }));
    await provider.stop();
    // alice's and rita's tokens are of the first key, oscar's of the second: both fetched before the provider went.
    for (const user of ['alice', 'oscar', 'rita'] as const) assert.equal((await as(user).get(REGISTRIES)).status, 200, user);
    const res = await eventually('the unknown kid answered 503', async () => {
      const answer = await api(unseen).get(REGISTRIES);
      assert.ok([401, 503].includes(answer.status), answer.text);
      return answer.status === 503 && answer;
    });
    assert.match(errorMessage(res), new RegExp(`identity provider ${provider.issuer.replace(/[.]/g, '\\.')} does not answer`));
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.equal((await api(berth.adminToken).get(REGISTRIES)).status, 200, 'Berth\'s own tokens do not need the provider');
    assert.match(await settledOutput(), /cannot fetch the signing keys of the identity provider; keys already fetched keep working/);
  });
});

describe('single sign-on settings at start-up', () => {
  it('a malformed OIDC setting ends Berth with exit code 2 and one line', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-sso-settings-'));
    try {
      const child = spawnBerth([], cleanEnv({ BERTH_DATA_DIR: dataDir, BERTH_OIDC_ISSUER: 'http://idp.example.com', BERTH_OIDC_AUDIENCE: 'berth', BERTH_OIDC_ROLES: ROLES }));
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      assert.equal(await exitOf(child), 2);
      assert.match(stderr, /^berth: BERTH_OIDC_ISSUER: expected the issuer's https:\/\/ URL without query or fragment, got 'http:\/\/idp\.example\.com'\n$/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
