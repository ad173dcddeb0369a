// Settings parsing: the defaults, the environment, flags over the environment, every malformed form of each
// setting (a SettingsError naming the setting), and the secret store's VAULT_ variables.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListenAddress, readSettings, SettingsError } from '../../src/settings.js';

/** Asserts that reading these settings fails with a SettingsError whose message matches `pattern`. */
function fails(argv: string[], env: NodeJS.ProcessEnv, pattern: RegExp): SettingsError {
  let error: unknown;
  try {
    readSettings(argv, env);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof SettingsError, `expected a SettingsError for ${JSON.stringify({ argv, env })}, got ${String(error)}`);
  assert.match(error.message, pattern);
  return error;
}

describe('defaults', () => {
  it('with nothing set: loopback port 4646, ./data, info, 1 MiB, no anonymous pull, no secret store, no admin token', () => {
    assert.deepEqual(readSettings([], {}), {
      listen: { host: '127.0.0.1', port: 4646 },
      dataDir: './data',
      adminToken: undefined,
      logLevel: 'info',
      bodyLimitBytes: 1_048_576,
      registryAnonymousPull: false,
      secretStore: undefined,
    });
  });

  it('variables that are not Berth settings are ignored', () => {
    assert.equal(readSettings([], { PATH: '/bin', HOME: '/root', BERTHA: 'x' }).logLevel, 'info');
  });
});

describe('the environment and flags', () => {
  const env = {
    BERTH_LISTEN: '0.0.0.0:8080',
    BERTH_DATA_DIR: '/var/lib/berth',
    BERTH_ADMIN_TOKEN: 'env-admin-token-0123456789',
    BERTH_LOG_LEVEL: 'debug',
    BERTH_BODY_LIMIT: '2048',
    BERTH_REGISTRY_ANONYMOUS_PULL: 'true',
  };

  it('every setting is read from its variable', () => {
    const settings = readSettings([], env);
    assert.deepEqual(settings.listen, { host: '0.0.0.0', port: 8080 });
    assert.equal(settings.dataDir, '/var/lib/berth');
    assert.equal(settings.adminToken, 'env-admin-token-0123456789');
    assert.equal(settings.logLevel, 'debug');
    assert.equal(settings.bodyLimitBytes, 2048);
    assert.equal(settings.registryAnonymousPull, true);
  });

  it('each flag overrides its variable, in both --flag value and --flag=value forms', () => {
    const flags = [
      '--listen', '[::1]:9090',
      '--data-dir=/srv/berth',
      '--admin-token', 'flag-admin-token-0123456789',
      '--log-level=warn',
      '--body-limit', '4096',
      '--registry-anonymous-pull=false',
    ];
    const settings = readSettings(flags, env);
    assert.deepEqual(settings.listen, { host: '::1', port: 9090 });
    assert.equal(settings.dataDir, '/srv/berth');
    assert.equal(settings.adminToken, 'flag-admin-token-0123456789');
    assert.equal(settings.logLevel, 'warn');
    assert.equal(settings.bodyLimitBytes, 4096);
    assert.equal(settings.registryAnonymousPull, false);
  });

  it('a flag wins even when its value is malformed and the variable is fine (the flag is reported)', () => {
    fails(['--log-level', 'loud'], { BERTH_LOG_LEVEL: 'warn' }, /^BERTH_LOG_LEVEL: .*got 'loud'/);
  });

  it('the last of a repeated flag counts', () => {
    assert.equal(readSettings(['--log-level', 'error', '--log-level', 'trace'], {}).logLevel, 'trace');
  });
});

describe('malformed settings', () => {
  it('unknown BERTH_ variables are named, with the known ones listed', () => {
    const error = fails([], { BERTH_LISTN: 'x', BERTH_COLOUR: 'blue' }, /^unknown setting BERTH_LISTN, BERTH_COLOUR \(known: /);
    assert.match(error.message, /BERTH_LISTEN/);
  });

  it('unknown flags, positional arguments and flags without a value', () => {
    fails(['--colour', 'blue'], {}, /Unknown option '--colour'/);
    fails(['serve'], {}, /positional/i);
    fails(['--listen'], {}, /--listen/);
    fails(['-l', '1.2.3.4:5'], {}, /Unknown option '-l'/);
  });

  it('listen: host and port, a bracketed IPv6 address, a port in range', () => {
    for (const good of ['127.0.0.1:0', 'localhost:1', '[::]:65535', '[fe80::1]:80', 'berth.internal:4646']) {
      assert.doesNotThrow(() => readSettings([], { BERTH_LISTEN: good }), good);
    }
    for (const bad of ['localhost', ':80', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:123456', '[::1]', '::1:80', '[zz]:80', '[127.0.0.1]:80', 'a b:80', 'host:-1', 'host:8O', '']) {
      fails([], { BERTH_LISTEN: bad }, /^BERTH_LISTEN: /);
    }
    assert.throws(() => parseListenAddress('nope', '--listen'), (e: unknown) => e instanceof SettingsError && /^--listen: expected HOST:PORT/.test(e.message));
  });

  it('log level: one of the named levels, exactly', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) assert.equal(readSettings([], { BERTH_LOG_LEVEL: level }).logLevel, level);
    for (const bad of ['INFO', 'warning', 'verbose', ' info', '']) fails([], { BERTH_LOG_LEVEL: bad }, /^BERTH_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent/);
  });

  it('body limit: a whole number of bytes, at least 1024', () => {
    assert.equal(readSettings([], { BERTH_BODY_LIMIT: '1024' }).bodyLimitBytes, 1024);
    assert.equal(readSettings([], { BERTH_BODY_LIMIT: '9999999999' }).bodyLimitBytes, 9_999_999_999);
    for (const bad of ['1023', '0', '-1', '1e6', '1MiB', '1_000_000', '0x10000', '12345678901', ' 2048', '']) {
      fails([], { BERTH_BODY_LIMIT: bad }, /^BERTH_BODY_LIMIT: expected a number of bytes of at least 1024/);
    }
  });

  it('anonymous pull: true or false, lower case', () => {
    assert.equal(readSettings([], { BERTH_REGISTRY_ANONYMOUS_PULL: 'true' }).registryAnonymousPull, true);
    for (const bad of ['TRUE', 'yes', '1', 'on', '']) fails([], { BERTH_REGISTRY_ANONYMOUS_PULL: bad }, /^BERTH_REGISTRY_ANONYMOUS_PULL: expected true or false/);
  });

  it('admin token: 16 to 256 printable characters without spaces, and never echoed', () => {
    for (const good of ['x'.repeat(16), 'y'.repeat(256), '!~"#$%&()*+,-./:;<=>?@[]^_`{|}'.padEnd(16, 'z')]) {
      assert.equal(readSettings([], { BERTH_ADMIN_TOKEN: good }).adminToken, good);
    }
    for (const bad of ['x'.repeat(15), 'y'.repeat(257), 'with a space in it!!', 'tab\there-0123456789', 'ünïcödé-0123456789', '']) {
      const error = fails([], { BERTH_ADMIN_TOKEN: bad }, /^BERTH_ADMIN_TOKEN: expected 16 to 256 printable characters without spaces$/);
      if (bad !== '') assert.ok(!error.message.includes(bad));
    }
  });

  it('data dir: anything but empty or blank', () => {
    assert.equal(readSettings([], { BERTH_DATA_DIR: 'relative/dir with spaces' }).dataDir, 'relative/dir with spaces');
    for (const bad of ['', '   ', '\t']) fails([], { BERTH_DATA_DIR: bad }, /^BERTH_DATA_DIR: must not be empty/);
  });
});

describe('the secret store variables', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-settings-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const token = 'hvs.settings-test-token-1234';

  it('unset or empty VAULT_ADDR: no secret store, whatever else is set', () => {
    assert.equal(readSettings([], { VAULT_TOKEN: token }).secretStore, undefined);
    assert.equal(readSettings([], { VAULT_ADDR: '', VAULT_TOKEN: token }).secretStore, undefined);
  });

  it('VAULT_ADDR and VAULT_TOKEN: the address without trailing slashes, and the token', () => {
    assert.deepEqual(readSettings([], { VAULT_ADDR: 'http://127.0.0.1:8200//', VAULT_TOKEN: token }).secretStore, { address: 'http://127.0.0.1:8200', token });
    assert.deepEqual(readSettings([], { VAULT_ADDR: 'https://vault.example.com', VAULT_TOKEN: token }).secretStore, { address: 'https://vault.example.com', token });
  });

  it('VAULT_ADDR without VAULT_TOKEN (or with an empty one) is an error naming VAULT_TOKEN', () => {
    fails([], { VAULT_ADDR: 'http://127.0.0.1:8200' }, /^VAULT_TOKEN: required when VAULT_ADDR is set$/);
    fails([], { VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_TOKEN: '' }, /^VAULT_TOKEN: required when VAULT_ADDR is set$/);
  });

  it('VAULT_ADDR must be an http or https URL', () => {
    for (const bad of ['127.0.0.1:8200', 'vault', 'ftp://vault.example.com', 'file:///etc/passwd', 'http//x']) {
      const error = fails([], { VAULT_ADDR: bad, VAULT_TOKEN: token }, /^VAULT_ADDR: expected an http:\/\/ or https:\/\/ URL/);
      assert.ok(!error.message.includes(token));
    }
  });

  it('VAULT_CACERT: its PEM is read; an unreadable file is named with the error code only', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const path = join(dir, 'ca.pem');
    writeFileSync(path, pem);
    assert.deepEqual(readSettings([], { VAULT_ADDR: 'https://v.example.com', VAULT_TOKEN: token, VAULT_CACERT: path }).secretStore, {
      address: 'https://v.example.com',
      token,
      caCertPem: pem,
    });
    const missing = join(dir, 'missing.pem');
    const error = fails([], { VAULT_ADDR: 'https://v.example.com', VAULT_TOKEN: token, VAULT_CACERT: missing }, /^VAULT_CACERT: cannot read .*missing\.pem: ENOENT$/);
    assert.ok(!error.message.includes(token));
    fails([], { VAULT_ADDR: 'https://v.example.com', VAULT_TOKEN: token, VAULT_CACERT: dir }, /^VAULT_CACERT: cannot read .*: EISDIR$/);
  });

  it('no error message ever contains the secret store token', () => {
    const broken: NodeJS.ProcessEnv[] = [
      { VAULT_ADDR: 'nope', VAULT_TOKEN: token },
      { VAULT_ADDR: 'http://v', VAULT_TOKEN: token, VAULT_CACERT: '/nonexistent' },
      { VAULT_ADDR: 'http://v', VAULT_TOKEN: token, BERTH_LISTEN: 'bad' },
      { VAULT_ADDR: 'http://v', VAULT_TOKEN: token, BERTH_NOPE: '1' },
    ];
    for (const env of broken) assert.ok(!fails([], env, /./).message.includes(token));
  });
});
