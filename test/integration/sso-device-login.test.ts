// The CLI's device-login module against a real OpenID Provider: what is kept (mode 0600, replacing a wider file),
// what is not (a denied or interrupted login), refreshing once however many commands ask at the same time, a
// refusal that asks to log in again, logout, and reading where to sign on from a Berth without single sign-on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startBerth } from '../helpers/berth.js';
import { startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { registerSecretValue } from '../helpers/secret-values.js';
import { accessToken, deviceLogin, logout, readSsoTarget, SsoError, type DeviceCodePrompt } from '../../src/cli/sso/device-login.js';
import { readSession } from '../../src/cli/sso/session-file.js';

const USER = { name: 'dana', password: `dana-pw-${randomBytes(6).toString('hex')}` };
let provider: OidcProvider;
let dir: string;

before(async () => {
  provider = await startOidcProvider({ users: { [USER.name]: { password: USER.password, groups: ['berth-ops'] } } });
  registerSecretValue(USER.password);
  dir = mkdtempSync(join(tmpdir(), 'berth-device-login-'));
});

after(async () => {
  await provider?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the device flow; `person` plays the human once the code is shown. */
async function login(sessionFile: string, person: (prompt: DeviceCodePrompt) => Promise<void>, signal?: AbortSignal) {
  let acted: Promise<void> | undefined;
  const result = deviceLogin({
    issuer: provider.issuer,
    clientId: provider.clientId,
    audience: provider.audience,
    caCertPem: provider.ca.certPem,
    sessionFile,
    prompt: (prompt) => (acted = person(prompt)),
    ...(signal ? { signal } : {}),
  });
  try {
    return await result;
  } finally {
    await acted;
  }
}

const tokenOptions = () => ({ caCertPem: provider.ca.certPem });

describe('device login', () => {
  const file = () => join(dir, 'sessions', 'dana.json');

  it('a person who aborts, or a command interrupted while waiting, leaves no session behind', async () => {
    await assert.rejects(
      login(file(), ({ verificationUri, userCode }) => provider.abortDeviceLogin(verificationUri, userCode)),
      (e: unknown) => e instanceof SsoError && /login did not complete: access_denied/.test(e.message),
    );
    const controller = new AbortController();
    await assert.rejects(
      login(file(), async () => controller.abort(), controller.signal),
      (e: unknown) => e instanceof SsoError && /login interrupted; nothing was saved/.test(e.message),
    );
    assert.equal(existsSync(file()), false);
  });

  it('keeps the tokens in a 0600 file that replaces whatever was there, and hands the access token out as kept', async () => {
    mkdirSync(join(dir, 'sessions'));
    writeFileSync(file(), 'old', { mode: 0o644 });
    const session = await login(file(), ({ verificationUri, userCode }) => provider.approveDeviceLogin(verificationUri, userCode, USER.name, USER.password));
    registerSecretValue(session.accessToken);
    assert.equal(statSync(file()).mode & 0o777, 0o600);
    assert.deepEqual(readSession(file()), session);
    assert.equal(session.issuer, provider.issuer);
    assert.ok(session.refreshToken, 'a refresh token (offline_access)');
    assert.equal(await accessToken(file(), tokenOptions()), session.accessToken, 'a token with time left is not refreshed');
  });

  it('commands refreshing at the same time spend the refresh token once, and the sign-on lives on', async () => {
    const session = readSession(file())!;
    const refreshed = await Promise.all(Array.from({ length: 4 }, () => accessToken(file(), { ...tokenOptions(), forceRefresh: true })));
    for (const token of refreshed) registerSecretValue(token);
    assert.equal(new Set(refreshed).size, 1, 'one refresh, its token shared');
    assert.notEqual(refreshed[0], session.accessToken);
    // Had the refresh token been spent twice, the provider would have revoked the grant and this would fail.
    const again = await accessToken(file(), { ...tokenOptions(), forceRefresh: true });
    assert.notEqual(again, refreshed[0]);
    assert.equal(existsSync(`${file()}.lock`), false);
  });

  it('a refresh token the provider refuses asks the person to log in again; logout forgets the session', async () => {
    const kept = readSession(file())!;
    writeFileSync(file(), JSON.stringify({ ...kept, refreshToken: 'not-a-refresh-token' }), { mode: 0o600 });
    await assert.rejects(
      accessToken(file(), { ...tokenOptions(), forceRefresh: true }),
      (e: unknown) => e instanceof SsoError && /run berth login --sso again/.test(e.message),
    );
    assert.equal(logout(file()), true);
    assert.equal(existsSync(file()), false);
    assert.equal(logout(file()), false);
    await assert.rejects(accessToken(file(), tokenOptions()), (e: unknown) => e instanceof SsoError && /not logged in/.test(e.message));
  });

  it('a Berth without single sign-on says so to the CLI', async () => {
    const berth = await startBerth();
    try {
      await assert.rejects(readSsoTarget(berth.url), (e: unknown) => e instanceof SsoError && /has no single sign-on configured/.test(e.message));
    } finally {
      assert.equal(await berth.stop(), 0);
    }
  });
});
