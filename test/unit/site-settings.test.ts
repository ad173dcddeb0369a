// The site settings: BERTH_SITE_NAME, and BERTH_TOWER_URL / _TOKEN / _CACERT that make a Berth a site of a tower.
// Each malformed or incomplete combination is a SettingsError naming the setting; the token never appears in one.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSettings, SettingsError } from '../../src/settings.js';

const TOKEN = 'berth_site-token-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'berth-site-settings-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fails(env: NodeJS.ProcessEnv, pattern: RegExp): void {
  let error: unknown;
  try {
    readSettings([], env);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof SettingsError, `expected a SettingsError for ${Object.keys(env).join(', ')}`);
  assert.match(error.message, pattern);
  assert.ok(!error.message.includes(TOKEN), 'the tower token is not in the message');
}

describe('site settings', () => {
  it('a Berth is the control tower by default', () => {
    const settings = readSettings([], {});
    assert.equal(settings.siteName, 'control-tower');
    assert.equal(settings.tower, undefined);
  });

  it('a site names itself and its tower; flags work as the variables do', () => {
    const settings = readSettings([], { BERTH_SITE_NAME: 'store-42', BERTH_TOWER_URL: 'https://tower.example.com:4646/', BERTH_TOWER_TOKEN: TOKEN });
    assert.equal(settings.siteName, 'store-42');
    assert.deepEqual(settings.tower, { url: 'https://tower.example.com:4646', token: TOKEN });
    const flags = readSettings(['--site-name', 'b', '--tower-url', 'http://127.0.0.1:1', '--tower-token', TOKEN, '--sites-allow-http=true'], {});
    assert.deepEqual([flags.siteName, flags.tower?.url, flags.sitesAllowHttp], ['b', 'http://127.0.0.1:1', true]);
  });

  it('an http:// tower only with BERTH_SITES_ALLOW_HTTP=true: the site token would travel in clear', () => {
    const site = { BERTH_SITE_NAME: 'a', BERTH_TOWER_URL: 'http://t.example.com', BERTH_TOWER_TOKEN: TOKEN };
    fails(site, /^BERTH_TOWER_URL: 'http:\/\/t\.example\.com' is http:\/\/, so this site's token would travel in clear; use https:\/\/ or set BERTH_SITES_ALLOW_HTTP=true$/);
    fails({ ...site, BERTH_SITES_ALLOW_HTTP: 'yes' }, /^BERTH_SITES_ALLOW_HTTP: expected true or false/);
    assert.equal(readSettings([], { ...site, BERTH_SITES_ALLOW_HTTP: 'true' }).tower?.url, 'http://t.example.com');
    assert.equal(readSettings([], { BERTH_SITES_ALLOW_HTTP: 'true' }).sitesAllowHttp, true);
  });

  it('reads the tower CA from BERTH_TOWER_CACERT', () => {
    const pem = join(dir, 'tower-ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const settings = readSettings([], { BERTH_SITE_NAME: 'a', BERTH_TOWER_URL: 'https://t.example.com', BERTH_TOWER_TOKEN: TOKEN, BERTH_TOWER_CACERT: pem });
    assert.match(settings.tower?.caCertPem ?? '', /BEGIN CERTIFICATE/);
  });

  it('rejects malformed names, URLs and tokens, and incomplete combinations', () => {
    const site = { BERTH_SITE_NAME: 'a', BERTH_TOWER_URL: 'https://t.example.com', BERTH_TOWER_TOKEN: TOKEN };
    fails({ BERTH_SITE_NAME: 'Store_42' }, /^BERTH_SITE_NAME: expected/);
    fails({ BERTH_SITE_NAME: '-a' }, /^BERTH_SITE_NAME/);
    fails({ BERTH_SITE_NAME: 'a'.repeat(64) }, /^BERTH_SITE_NAME/);
    fails({ ...site, BERTH_TOWER_URL: 'tower.example.com' }, /^BERTH_TOWER_URL: expected an http/);
    fails({ ...site, BERTH_TOWER_URL: 'ftp://t.example.com' }, /^BERTH_TOWER_URL/);
    fails({ ...site, BERTH_TOWER_URL: 'https://user:pw@t.example.com' }, /^BERTH_TOWER_URL: .*without user info/);
    fails({ ...site, BERTH_TOWER_URL: 'https://t.example.com/?x=1' }, /^BERTH_TOWER_URL/);
    fails({ BERTH_TOWER_URL: 'https://t.example.com', BERTH_TOWER_TOKEN: TOKEN }, /^BERTH_SITE_NAME: required with BERTH_TOWER_URL/);
    fails({ BERTH_SITE_NAME: 'a', BERTH_TOWER_URL: 'https://t.example.com' }, /^BERTH_TOWER_TOKEN: required/);
    fails({ ...site, BERTH_TOWER_TOKEN: 'short' }, /^BERTH_TOWER_TOKEN/);
    fails({ ...site, BERTH_TOWER_TOKEN: `${TOKEN} x` }, /^BERTH_TOWER_TOKEN/);
    fails({ BERTH_TOWER_TOKEN: TOKEN }, /^BERTH_TOWER_TOKEN: only meaningful with BERTH_TOWER_URL/);
    fails({ BERTH_TOWER_CACERT: '/x' }, /^BERTH_TOWER_CACERT: only meaningful with BERTH_TOWER_URL/);
    fails({ ...site, BERTH_TOWER_URL: 'http://t.example.com', BERTH_TOWER_CACERT: '/x', BERTH_SITES_ALLOW_HTTP: 'true' }, /^BERTH_TOWER_CACERT: only meaningful with an https/);
    fails({ ...site, BERTH_TOWER_CACERT: join(dir, 'missing.pem') }, /^BERTH_TOWER_CACERT: cannot read .*ENOENT/);
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    fails({ ...site, BERTH_TOWER_CACERT: notPem }, /^BERTH_TOWER_CACERT: .* holds no PEM certificate/);
  });
});
