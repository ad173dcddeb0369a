// `berth login URL --sso` driven as a person drives it, against a real OpenID Provider (oidc-provider in its own
// process over TLS, test/helpers/oidc-provider.ts) and a Berth that trusts it: the CLI shows where to sign in and
// the code, the test signs in there as the user, then commands run with the role of the user's groups; an access
// token that expired at Berth is refreshed silently (before it runs out, and after a 401); Ctrl-C and a provider
// whose certificate is not trusted save nothing; logout forgets the tokens. No token in anything the CLI printed, nor
// in Berth's log (test/helpers/secret-values.ts watches every one the session file held).
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { decodeJwt } from 'jose';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { installBerthCommand, runBerthCli } from '../helpers/berth-cli.js';
import { berthTrusting, startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { assertNoSecretIn, registerSecretValue } from '../helpers/secret-values.js';
import { startTerminal, type Terminal } from '../helpers/tmux.js';
import { accessToken } from '../../src/cli/sso/device-login.js';
import { readSession, writeSession, type SsoSession } from '../../src/cli/sso/session-file.js';

const password = (user: string) => `${user}-pw-${randomBytes(6).toString('hex')}`;
const USERS = {
  alice: { password: password('alice'), groups: ['berth-admins'] },
  rita: { password: password('rita'), groups: ['berth-readers'] },
  nina: { password: password('nina'), groups: ['marketing'] },
};
const REGISTRY = 'sso-cli.example.com';
/** What the CLI prints while it waits for the person; the URL to open and the code to type there. */
const PROMPT = /To sign in, open (https:\/\/\S+) in a browser and enter the code (\S+)/;

let provider: OidcProvider;
let berth: BerthProcess;
let terminal: Terminal;
let home: string;
/** Everything the CLI printed, checked for every token seen so far. */
const printed: string[] = [];

const shellEnv = () => ({ HOME: home, PATH: `${join(home, 'bin')}:${process.env.PATH}`, PS1: '$ ', HISTFILE: '/dev/null', LANG: 'C.UTF-8' });
const configDir = () => join(home, '.config', 'berth');
const sessionFile = (context: string) => join(configDir(), 'sso', `${context}.json`);
const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

/** A command typed into the terminal; what it printed is kept for the leak check. */
async function typed(command: string): Promise<{ exitCode: number; screen: string }> {
  const result = await terminal.run(command);
  printed.push(result.screen);
  return result;
}

/** The session the CLI keeps for `context`, its tokens registered with the leak watch (and a JWT's signature alone). */
function keptSession(context: string): SsoSession {
  const session = readSession(sessionFile(context));
  assert.ok(session, `a session for context '${context}'`);
  for (const token of [session.accessToken, session.refreshToken ?? '', session.accessToken.split('.')[2] ?? '']) if (token.length >= 16) registerSecretValue(token);
  return session;
}

function assertNoTokenPrinted(): void {
  printed.forEach((text, i) => assertNoSecretIn(text, `output ${i} of the CLI`));
}

/** Plays the person once the CLI shows where to sign in. */
const signIn = (match: RegExpMatchArray, user: keyof typeof USERS) => provider.approveDeviceLogin(match[1]!, match[2]!, user, USERS[user].password);

before(async () => {
  provider = await startOidcProvider({ users: USERS });
  for (const user of Object.values(USERS)) registerSecretValue(user.password);
  berth = await startBerth({ env: berthTrusting(provider) });
  home = mkdtempSync(join(tmpdir(), 'berth-sso-cli-home-'));
  installBerthCommand(home);
  copyFileSync(provider.ca.certPath, join(home, 'idp-ca.pem'));
  registerSecretValue(berth.adminToken);
  writeFileSync(join(home, 'admin-token'), berth.adminToken, { mode: 0o600 });
  writeFileSync(join(home, 'registry.yaml'), `address: ${REGISTRY}\n`);
  writeFileSync(join(home, 'other.yaml'), 'address: other.example.com\n');
  terminal = await startTerminal({ env: shellEnv(), cwd: home });
});

after(async () => {
  try {
    await terminal?.close();
    // stop() also checks Berth's whole log for every registered token.
    assert.equal(await berth?.stop(), 0);
  } finally {
    await provider?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  }
  assertNoTokenPrinted();
});

describe('berth login --sso', () => {
  it('shows where to sign in and the code; once the person has signed in, commands run as an admin', async () => {
    const which = await terminal.type(`berth login ${berth.url} --sso --idp-ca-cert idp-ca.pem --scope berth`);
    await signIn(await terminal.waitFor(PROMPT, 'the verification URI and the user code'), 'alice');
    const login = await terminal.ended(which);
    printed.push(login.screen);
    assert.equal(login.exitCode, 0, login.screen);
    assert.match(login.screen, new RegExp(`^logged in to ${berth.url} \\(\\S+ '\\S+'\\) as context 'default' by single sign-on at ${provider.issuer};`, 'm'));

    // The tokens in a file of their own, beside the contexts, readable by its owner only; the context names no token.
    const session = keptSession('default');
    assert.equal(statSync(sessionFile('default')).mode & 0o777, 0o600);
    assert.equal(statSync(join(configDir(), 'sso')).mode & 0o777, 0o700);
    assert.ok(session.refreshToken, 'a refresh token');
    assert.equal(session.scope, 'openid profile offline_access groups berth', '--scope adds to the default scopes');
    assert.match(String(decodeJwt(session.accessToken).scope), /\bberth\b/, 'the provider granted the extra scope');
    assert.deepEqual((yaml.load(readFileSync(join(configDir(), 'config.yaml'), 'utf8')) as { contexts: unknown }).contexts, {
      default: { url: berth.url, sso: { 'idp-ca-cert': join(home, 'idp-ca.pem') } },
    });

    const created = await typed('berth create image-registry remote-registries -f registry.yaml');
    assert.equal(created.exitCode, 0, created.screen);
    const by = await typed(`berth show state image-registry remote-registries ${REGISTRY} --fields 'last-change-by(kind;name;issuer)'`);
    assert.deepEqual(yaml.load(by.screen), { 'last-change-by': { kind: 'sso', name: 'alice', issuer: provider.issuer } });
    assertNoTokenPrinted();
  });

  it('from a script: a reader signs on as a second context, reads, and a write is one line naming 403; no group, no session', async () => {
    // From a script (no terminal): the prompt on stderr. At the same time, a user in no group Berth maps is refused
    // by Berth after signing in, and nothing is kept for her.
    const scriptedLogin = (user: keyof typeof USERS, context: string) => {
      let approval: Promise<void> | undefined;
      return runBerthCli(['login', berth.url, '--sso', '--context', context, '--idp-ca-cert', 'idp-ca.pem'], {
        env: shellEnv(),
        cwd: home,
        onStderr: (text) => {
          const match = PROMPT.exec(text);
          // Once only: the prompt stays in the text seen so far.
          if (match && !approval) approval = signIn(match, user);
        },
      }).then(async (result) => {
        await approval;
        printed.push(result.stdout, result.stderr);
        return result;
      });
    };
    const [login, refused] = await Promise.all([scriptedLogin('rita', 'reader'), scriptedLogin('nina', 'nobody')]);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, PROMPT, 'the prompt on stderr');
    assert.match(login.stdout, /^logged in to .* as context 'reader' by single sign-on/);
    keptSession('reader');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(lines(refused.stderr).at(-1)!, /^berth: 403 Forbidden: 'nina' is in none of the groups Berth gives a role to/);
    assert.equal(refused.stdout, '');
    assert.equal(existsSync(sessionFile('nobody')), false, 'no session kept');

    const keys = await typed('berth --context reader show image-registry remote-registries --keys');
    assert.equal(keys.exitCode, 0, keys.screen);
    assert.deepEqual(yaml.load(keys.screen), [REGISTRY]);
    const write = await typed('berth --context reader create image-registry remote-registries -f other.yaml');
    assert.equal(write.exitCode, 1, write.screen);
    assert.equal(lines(write.screen).length, 1, write.screen);
    assert.match(write.screen, /^berth: 403 Forbidden: role 'read' may not POST/);

    // Contexts of both kinds side by side; BERTH_TOKEN overrides a single sign-on as it overrides a token.
    assert.equal((await typed(`berth login ${berth.url} --token "$(cat admin-token)" --context ops`)).exitCode, 0);
    const list = await typed('berth context list');
    assert.deepEqual(yaml.load(list.screen), [
      { name: 'default', url: berth.url, sso: `logged in at ${provider.issuer}`, 'idp-ca-cert': join(home, 'idp-ca.pem'), current: false },
      { name: 'reader', url: berth.url, sso: `logged in at ${provider.issuer}`, 'idp-ca-cert': join(home, 'idp-ca.pem'), current: false },
      { name: 'ops', url: berth.url, token: 'set', current: true },
    ]);
    const overridden = await typed('BERTH_TOKEN=not-a-token berth --context reader show image-registry remote-registries');
    assert.equal(overridden.exitCode, 1, overridden.screen);
    assert.match(overridden.screen, /^berth: 401 Unauthorized: .*the token from BERTH_TOKEN was refused/);
    assert.equal((await typed('berth context use default')).exitCode, 0);
    assertNoTokenPrinted();
  });

  it('an access token that expired at Berth is refreshed silently: after a 401, and before it runs out', async () => {
    // The provider's clock 10 minutes behind: the token it issues now expired 5 minutes ago by Berth's clock, while
    // the session file (this machine's clock) still gives it 5 minutes. The test refreshes it as the CLI would.
    await provider.setClock(-600);
    const expired = await accessToken(sessionFile('default'), { caCertPem: provider.ca.certPem, forceRefresh: true });
    await provider.setClock(0);
    keptSession('default');
    const refused = await fetch(`${berth.url}/v1/config/image-registry/remote-registries`, { headers: { authorization: `Bearer ${expired}` } });
    assert.equal(refused.status, 401, 'Berth refuses the token kept in the session');

    const afterRefusal = await typed('berth show image-registry remote-registries --keys');
    assert.equal(afterRefusal.exitCode, 0, afterRefusal.screen);
    assert.deepEqual(yaml.load(afterRefusal.screen), [REGISTRY]);
    const renewed = keptSession('default');
    assert.notEqual(renewed.accessToken, expired, 'refreshed after the 401');

    // Less than a minute left: refreshed before the call (the session written as the CLI writes it, mode 0600).
    writeSession(sessionFile('default'), { ...renewed, expiresAt: new Date(Date.now() + 30_000).toISOString() });
    const beforeExpiry = await typed('berth show image-registry remote-registries --keys');
    assert.equal(beforeExpiry.exitCode, 0, beforeExpiry.screen);
    const again = keptSession('default');
    assert.notEqual(again.accessToken, renewed.accessToken, 'refreshed before it ran out');
    assert.ok(Date.parse(again.expiresAt) > Date.now() + 60_000, again.expiresAt);
    assert.equal(statSync(sessionFile('default')).mode & 0o777, 0o600);
    assertNoTokenPrinted();
  });

  it('Ctrl-C while waiting for the person, or an identity provider whose certificate is not trusted, saves nothing', async () => {
    const which = await terminal.type(`berth login ${berth.url} --sso --context later --idp-ca-cert idp-ca.pem`);
    await terminal.waitFor(PROMPT, 'the prompt');
    await terminal.press('C-c');
    const interrupted = await terminal.ended(which);
    printed.push(interrupted.screen);
    assert.equal(interrupted.exitCode, 130, interrupted.screen);
    // The terminal echoes ^C where the cursor was.
    assert.match(interrupted.screen, /^(\^C)?berth: interrupted; nothing was saved$/m);

    const untrusted = await runBerthCli(['login', berth.url, '--sso', '--context', 'later'], { env: shellEnv(), cwd: home });
    printed.push(untrusted.stdout, untrusted.stderr);
    assert.equal(untrusted.code, 3, untrusted.stderr);
    assert.match(untrusted.stderr, /^berth: login: cannot reach the identity provider https:\/\/127\.0\.0\.1:\d+: \w+; give the identity provider's CA certificate with --idp-ca-cert\n$/);
    assert.equal(existsSync(sessionFile('later')), false);
    assert.ok(!('later' in (yaml.load(readFileSync(join(configDir(), 'config.yaml'), 'utf8')) as { contexts: object }).contexts));
  });

  it('logout forgets the tokens, saying the provider was not told; the next command is one line, exit 1; context remove', async () => {
    const logout = await typed('berth logout');
    assert.equal(logout.exitCode, 0, logout.screen);
    assert.match(logout.screen, /^logged out of context 'default' \(.*\): its single sign-on tokens are forgotten here; the identity provider was not told/m);
    assert.equal(existsSync(sessionFile('default')), false);

    const refused = await typed('berth show image-registry remote-registries');
    assert.equal(refused.exitCode, 1, refused.screen);
    assert.deepEqual(lines(refused.screen), [`berth: not logged in to ${berth.url} (context 'default' signs on with single sign-on, and has no session): run 'berth login ${berth.url} --sso'`]);
    assert.match((await typed('berth logout')).screen, /^context 'default' \(.*\) was not logged in$/m);

    // Removing a context forgets its single sign-on too; logging out of a token context forgets its token.
    assert.equal((await typed('berth context remove reader')).exitCode, 0);
    assert.equal(existsSync(sessionFile('reader')), false);
    const tokenLogout = await typed('berth logout --context ops');
    assert.match(tokenLogout.screen, /^logged out of context 'ops' \(.*\): its token is forgotten here, and still valid at Berth until revoked there$/m);
    assert.deepEqual(yaml.load((await typed('berth context list')).screen), [
      { name: 'default', url: berth.url, sso: 'logged out', 'idp-ca-cert': join(home, 'idp-ca.pem'), current: true },
      { name: 'ops', url: berth.url, token: 'none', current: false },
    ]);
    assertNoTokenPrinted();
  });
});
