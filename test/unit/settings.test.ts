// Settings parsing: the defaults, the environment, flags over the environment, every malformed form of each
// setting (a SettingsError naming the setting), the secret store's VAULT_ variables, the tower, and etcd.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListenAddress, readSettings, SettingsError } from '../../src/settings.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';

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
  it('with nothing set: loopback port 4646, ./data, info, 1 MiB, no anonymous pull, no secret store, no admin token, a tower on SQLite', () => {
    assert.deepEqual(readSettings([], {}), {
      listen: { host: '127.0.0.1', port: 4646 },
      dataDir: './data',
      adminToken: undefined,
      logLevel: 'info',
      bodyLimitBytes: 1_048_576,
      requestTimeoutMs: 300_000,
      registryAnonymousPull: false,
      registryMirror: {},
      secretStore: undefined,
      siteName: 'control-tower',
      tower: undefined,
      sitesAllowHttp: false,
      store: { engine: 'sqlite' },
      fanOut: { concurrency: 32, timeoutMs: 30_000 },
      siteImages: { resolveIntervalMs: 900_000 },
      limits: DEFAULT_LIMITS,
      oidc: undefined,
      pullHistory: 100,
      auditRetention: { maxEntries: 100_000, maxAgeMs: 365 * 86_400_000 },
      metrics: { anonymous: false, siteSeries: 100, repositoryLabels: false },
    });
  });

  it('BERTH_AUDIT_MAX_ENTRIES and BERTH_AUDIT_MAX_AGE: how much of the audit trail is kept; 0 is no limit', () => {
    assert.deepEqual(readSettings([], { BERTH_AUDIT_MAX_ENTRIES: '50', BERTH_AUDIT_MAX_AGE: '90m' }).auditRetention, { maxEntries: 50, maxAgeMs: 90 * 60_000 });
    assert.deepEqual(readSettings(['--audit-max-entries', '0', '--audit-max-age', '0'], {}).auditRetention, { maxEntries: undefined, maxAgeMs: undefined });
    assert.deepEqual(readSettings([], { BERTH_AUDIT_MAX_AGE: '30s' }).auditRetention.maxAgeMs, 30_000);
    assert.deepEqual(readSettings([], { BERTH_AUDIT_MAX_AGE: '12h' }).auditRetention.maxAgeMs, 12 * 3_600_000);
    for (const bad of ['-1', '1e3', 'many', '', '100000001']) {
      assert.throws(() => readSettings([], { BERTH_AUDIT_MAX_ENTRIES: bad }), /BERTH_AUDIT_MAX_ENTRIES: expected a number of entries/);
    }
    for (const bad of ['365', '1y', 'd', '-1d', '1.5d', '']) {
      assert.throws(() => readSettings([], { BERTH_AUDIT_MAX_AGE: bad }), /BERTH_AUDIT_MAX_AGE: expected an age like 365d/);
    }
  });

  it('BERTH_METRICS_*: anonymous scrapes, the per-site series cap, repository labels', () => {
    const metrics = readSettings([], { BERTH_METRICS_ANONYMOUS: 'true', BERTH_METRICS_SITE_SERIES: '0', BERTH_METRICS_REPOSITORY_LABELS: 'true' }).metrics;
    assert.deepEqual(metrics, { anonymous: true, siteSeries: 0, repositoryLabels: true });
    assert.throws(() => readSettings([], { BERTH_METRICS_ANONYMOUS: 'yes' }), /BERTH_METRICS_ANONYMOUS: expected true or false/);
    assert.throws(() => readSettings([], { BERTH_METRICS_SITE_SERIES: '100001' }), /BERTH_METRICS_SITE_SERIES: expected a number of sites from 0 to 100000/);
  });

  it('BERTH_PULL_HISTORY: how many finished pulls stay listed, 0 to 10000', () => {
    assert.equal(readSettings([], { BERTH_PULL_HISTORY: '0' }).pullHistory, 0);
    assert.equal(readSettings(['--pull-history', '250'], {}).pullHistory, 250);
    for (const bad of ['-1', '10001', 'many', '']) {
      assert.throws(() => readSettings([], { BERTH_PULL_HISTORY: bad }), /BERTH_PULL_HISTORY: expected a number of pulls from 0 to 10000/);
    }
  });

  it('BERTH_REGISTRY_MIRROR_URL and _CA: how runtimes reach the site registry, for the hosts.toml of pull-through', () => {
    assert.deepEqual(readSettings([], { BERTH_REGISTRY_MIRROR_URL: 'http://10.0.0.5:4646' }).registryMirror, { url: 'http://10.0.0.5:4646' });
    assert.deepEqual(readSettings(['--registry-mirror-url', 'https://edge.example.com/berth/'], {}).registryMirror, { url: 'https://edge.example.com/berth' });
    for (const bad of ['ftp://x', 'edge:4646', 'https://edge/x?y=1', 'https://edge/#f', 'not a url']) {
      assert.throws(() => readSettings([], { BERTH_REGISTRY_MIRROR_URL: bad }), /BERTH_REGISTRY_MIRROR_URL: expected an http:\/\/ or https:\/\/ URL/);
    }
    assert.throws(() => readSettings([], { BERTH_REGISTRY_MIRROR_URL: 'https://u:secret-pw@edge' }), (e: Error) => /no user info/.test(e.message) && !e.message.includes('secret-pw'));
    assert.throws(() => readSettings([], { BERTH_REGISTRY_MIRROR_URL: 'http://edge', BERTH_REGISTRY_MIRROR_CA: '/nonexistent' }), /BERTH_REGISTRY_MIRROR_CA: only meaningful with an https/);
    assert.throws(() => readSettings([], { BERTH_REGISTRY_MIRROR_URL: 'https://edge', BERTH_REGISTRY_MIRROR_CA: '/nonexistent/ca.pem' }), /BERTH_REGISTRY_MIRROR_CA: cannot read/);
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

  it('fan-out and desired images: whole numbers in range', () => {
    const read = readSettings(['--fanout-concurrency', '5'], { BERTH_FANOUT_TIMEOUT: '120', BERTH_SITE_IMAGES_RESOLVE_INTERVAL: '0' });
    assert.deepEqual([read.fanOut, read.siteImages], [{ concurrency: 5, timeoutMs: 120_000 }, { resolveIntervalMs: 0 }]);
    for (const bad of ['0', '1001', '-1', '1.5', 'many', ' 4', '']) fails([], { BERTH_FANOUT_CONCURRENCY: bad }, /^BERTH_FANOUT_CONCURRENCY: expected a number of sites from 1 to 1000/);
    for (const bad of ['0', '3601', '30s', '']) fails([], { BERTH_FANOUT_TIMEOUT: bad }, /^BERTH_FANOUT_TIMEOUT: expected a number of seconds from 1 to 3600/);
    for (const bad of ['604801', '-5', '15m']) fails([], { BERTH_SITE_IMAGES_RESOLVE_INTERVAL: bad }, /^BERTH_SITE_IMAGES_RESOLVE_INTERVAL: expected a number of seconds from 0 to 604800/);
  });

  it('data dir: anything but empty or blank', () => {
    assert.equal(readSettings([], { BERTH_DATA_DIR: 'relative/dir with spaces' }).dataDir, 'relative/dir with spaces');
    for (const bad of ['', '   ', '\t']) fails([], { BERTH_DATA_DIR: bad }, /^BERTH_DATA_DIR: must not be empty/);
  });
});

describe('the bounds (limits.ts)', () => {
  const bounds = {
    BERTH_MAX_MANIFEST_BYTES: ['manifestBytes', '8388608', 8_388_608],
    BERTH_MAX_CONFIG_BYTES: ['configBytes', '65536', 65_536],
    BERTH_MAX_MANIFEST_ENTRIES: ['manifestEntries', '64', 64],
    BERTH_MAX_PULL_MANIFEST_BYTES: ['pullManifestBytes', '1048576', 1_048_576],
    BERTH_OPERATION_FETCHES: ['operationFetches', '2', 2],
    BERTH_REMOTE_FETCHES: ['remoteFetches', '12', 12],
    BERTH_MAX_PATCH_OPERATIONS: ['patchOperations', '50', 50],
    BERTH_UPLOAD_SESSIONS: ['uploadSessions', '10', 10],
    BERTH_UPLOAD_SESSIONS_PER_TOKEN: ['uploadSessionsPerToken', '3', 3],
    BERTH_UPLOAD_IDLE_TIMEOUT: ['uploadIdleMs', '90', 90_000],
  } as const;

  it('the request timeout is read in seconds, from 1 s to a day', () => {
    assert.equal(readSettings([], { BERTH_REQUEST_TIMEOUT: '2' }).requestTimeoutMs, 2000);
    assert.equal(readSettings(['--request-timeout=3600'], {}).requestTimeoutMs, 3_600_000);
    for (const bad of ['0', '86401', 'soon']) fails([], { BERTH_REQUEST_TIMEOUT: bad }, /^BERTH_REQUEST_TIMEOUT: expected a whole number from 1 to 86400/);
  });

  it('each bound is read from its variable (the idle timeout in seconds) and from its flag', () => {
    for (const [variable, [field, text, value]] of Object.entries(bounds)) {
      assert.equal(readSettings([], { [variable]: text }).limits[field], value, variable);
      const flag = `--${variable.slice('BERTH_'.length).toLowerCase().replace(/_/g, '-')}=${text}`;
      assert.equal(readSettings([flag], {}).limits[field], value, flag);
    }
  });

  it('a bound that is not a whole number in its range is an error naming the variable and the range', () => {
    for (const variable of Object.keys(bounds)) {
      for (const bad of ['', '0', '-1', '1.5', 'ten', '99999999999999999']) fails([], { [variable]: bad }, new RegExp(`^${variable}: expected a whole number from \\d+ to \\d+, got '${bad.replace('.', '\\.')}'$`));
    }
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

  it('VAULT_ADDR with user info is refused without quoting it (a password may be in it)', () => {
    for (const bad of ['http://user:s3cret-pw@vault.example.com:8200', 'https://user@vault.example.com', 'http://:s3cret-pw@v', 'http://user:s3cret pw@v']) {
      const error = fails([], { VAULT_ADDR: bad, VAULT_TOKEN: token }, /^VAULT_ADDR: no credentials in the URL; Berth authenticates with VAULT_TOKEN$/);
      assert.ok(!error.message.includes('s3cret') && !error.message.includes('user'), error.message);
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

describe('the site and its tower', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-settings-tower-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const token = 'tower-site-token-0123456789';
  const site = { BERTH_SITE_NAME: 'edge-1', BERTH_TOWER_URL: 'https://tower.example.com:4646/', BERTH_TOWER_TOKEN: token };

  it('a site names itself and follows a tower: URL without trailing slash, token, optional CA', () => {
    assert.deepEqual(readSettings([], site).tower, { url: 'https://tower.example.com:4646', token });
    assert.equal(readSettings([], site).siteName, 'edge-1');
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    assert.match(readSettings(['--tower-cacert', ca], site).tower?.caCertPem ?? '', /BEGIN CERTIFICATE/);
    assert.equal(readSettings(['--site-name', 'edge-2'], site).siteName, 'edge-2');
  });

  it('site names are DNS labels', () => {
    for (const good of ['a', 'edge-1', '0', 'a'.repeat(63)]) assert.equal(readSettings([], { BERTH_SITE_NAME: good }).siteName, good);
    for (const bad of ['', 'Edge', '-a', 'a-', 'a_b', 'a.b', 'a'.repeat(64), 'ünï']) fails([], { BERTH_SITE_NAME: bad }, /^BERTH_SITE_NAME: expected 1 to 63 lowercase letters/);
  });

  it('tower settings without BERTH_TOWER_URL, and a tower without its token or a name of its own, are errors', () => {
    fails([], { BERTH_TOWER_TOKEN: token }, /^BERTH_TOWER_TOKEN: only meaningful with BERTH_TOWER_URL/);
    fails([], { BERTH_TOWER_CACERT: '/etc/ssl/ca.pem' }, /^BERTH_TOWER_CACERT: only meaningful with BERTH_TOWER_URL/);
    fails([], { BERTH_TOWER_URL: 'https://t.example.com', BERTH_TOWER_TOKEN: token }, /^BERTH_SITE_NAME: required with BERTH_TOWER_URL/);
    fails([], { ...site, BERTH_TOWER_TOKEN: '' }, /^BERTH_TOWER_TOKEN: required with BERTH_TOWER_URL/);
    fails([], { BERTH_SITE_NAME: 'edge-1', BERTH_TOWER_URL: 'https://t.example.com' }, /^BERTH_TOWER_TOKEN: required/);
    const short = fails([], { ...site, BERTH_TOWER_TOKEN: 'short token' }, /^BERTH_TOWER_TOKEN: required with BERTH_TOWER_URL: 16 to 4096 printable characters/);
    assert.ok(!short.message.includes('short token'));
  });

  it('the tower URL is http(s) without user info, query or fragment; its CA is a readable PEM file, for https only', () => {
    for (const bad of ['tower.example.com', 'ftp://t.example.com', 'https://user:pw@t.example.com', 'https://t.example.com/?a=1', 'https://t.example.com/#x']) {
      const error = fails([], { ...site, BERTH_TOWER_URL: bad }, /^BERTH_TOWER_URL: expected an http:\/\/ or https:\/\/ URL/);
      assert.ok(!error.message.includes(token));
    }
    fails([], { ...site, BERTH_TOWER_URL: 'http://t.example.com', BERTH_TOWER_CACERT: '/x.pem', BERTH_SITES_ALLOW_HTTP: 'true' }, /^BERTH_TOWER_CACERT: only meaningful with an https:\/\/ BERTH_TOWER_URL/);
    fails([], { ...site, BERTH_TOWER_CACERT: join(dir, 'missing.pem') }, /^BERTH_TOWER_CACERT: cannot read .*: ENOENT$/);
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    fails([], { ...site, BERTH_TOWER_CACERT: notPem }, /^BERTH_TOWER_CACERT: .* holds no PEM certificate$/);
  });
});

describe('the store engine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-settings-etcd-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const password = 'etcd-pass-w0rd-secret';
  const etcd = { BERTH_STORE: 'etcd', BERTH_ETCD_ENDPOINTS: 'http://10.0.0.1:2379, http://10.0.0.2:2379/' };

  it('etcd: endpoints (trimmed, no trailing slash), the default prefix, optional user and password', () => {
    assert.deepEqual(readSettings([], etcd).store, { engine: 'etcd', etcd: { endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], prefix: '/berth/' } });
    const withAuth = readSettings(['--etcd-prefix', '/edge/a/'], { ...etcd, BERTH_ETCD_USERNAME: 'berth', BERTH_ETCD_PASSWORD: password }).store;
    assert.deepEqual(withAuth, { engine: 'etcd', etcd: { endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'], prefix: '/edge/a/', auth: { username: 'berth', password } } });
    assert.deepEqual(readSettings(['--store', 'sqlite'], {}).store, { engine: 'sqlite' });
  });

  it('an unknown engine, and etcd settings without BERTH_STORE=etcd, are errors', () => {
    for (const bad of ['etcd3', 'SQLITE', 'postgres', '']) fails([], { BERTH_STORE: bad }, /^BERTH_STORE: expected sqlite or etcd/);
    fails([], { BERTH_ETCD_ENDPOINTS: 'http://a:2379' }, /^BERTH_ETCD_ENDPOINTS: only meaningful with BERTH_STORE=etcd/);
    fails([], { BERTH_ETCD_PREFIX: '/x/' }, /^BERTH_ETCD_PREFIX: only meaningful with BERTH_STORE=etcd/);
    const error = fails([], { BERTH_ETCD_PASSWORD: password }, /^BERTH_ETCD_PASSWORD: only meaningful with BERTH_STORE=etcd/);
    assert.ok(!error.message.includes(password));
  });

  it('endpoints: required, http(s)://HOST:PORT each, one scheme, never with credentials (which are not echoed)', () => {
    fails([], { BERTH_STORE: 'etcd' }, /^BERTH_ETCD_ENDPOINTS: required with BERTH_STORE=etcd/);
    for (const bad of ['10.0.0.1:2379', 'http://a', 'http://a:0', 'http://a:65536', 'http://a:2379/v3', 'grpc://a:2379', 'http://a:2379,', 'http://a b:2379']) {
      fails([], { ...etcd, BERTH_ETCD_ENDPOINTS: bad }, /^BERTH_ETCD_ENDPOINTS: expected comma-separated http\(s\):\/\/HOST:PORT URLs/);
    }
    fails([], { ...etcd, BERTH_ETCD_ENDPOINTS: 'http://a:2379,https://b:2379' }, /^BERTH_ETCD_ENDPOINTS: expected all http:\/\/ or all https:\/\//);
    const error = fails([], { ...etcd, BERTH_ETCD_ENDPOINTS: `http://root:${password}@a:2379` }, /^BERTH_ETCD_ENDPOINTS: no credentials in endpoint URLs/);
    assert.ok(!error.message.includes(password));
    assert.deepEqual(readSettings([], { ...etcd, BERTH_ETCD_ENDPOINTS: 'https://[::1]:2379' }).store, { engine: 'etcd', etcd: { endpoints: ['https://[::1]:2379'], prefix: '/berth/' } });
  });

  it('user and password: both or neither, a printable user name, a non-empty password never echoed', () => {
    fails([], { ...etcd, BERTH_ETCD_USERNAME: 'berth' }, /^BERTH_ETCD_USERNAME and BERTH_ETCD_PASSWORD: give both or neither$/);
    fails([], { ...etcd, BERTH_ETCD_PASSWORD: password }, /^BERTH_ETCD_USERNAME and BERTH_ETCD_PASSWORD: give both or neither$/);
    fails([], { ...etcd, BERTH_ETCD_USERNAME: 'has space', BERTH_ETCD_PASSWORD: password }, /^BERTH_ETCD_USERNAME: expected 1 to 128 printable characters/);
    fails([], { ...etcd, BERTH_ETCD_USERNAME: 'berth', BERTH_ETCD_PASSWORD: '' }, /^BERTH_ETCD_PASSWORD: must not be empty$/);
  });

  it('the prefix is printable and ends in /', () => {
    for (const bad of ['/berth', 'berth', '/be rth/', '', '/bérth/']) fails([], { ...etcd, BERTH_ETCD_PREFIX: bad }, /^BERTH_ETCD_PREFIX: expected a key prefix of printable characters ending in '\/'/);
    assert.equal((readSettings([], { ...etcd, BERTH_ETCD_PREFIX: '/' }).store as { etcd: { prefix: string } }).etcd.prefix, '/');
  });

  it('TLS files: for https endpoints only, certificate and key together, each a readable PEM of its kind', () => {
    const https = { ...etcd, BERTH_ETCD_ENDPOINTS: 'https://e.example.com:2379' };
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(key, '-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n');
    const store = readSettings([], { ...https, BERTH_ETCD_CACERT: cert, BERTH_ETCD_CERT: cert, BERTH_ETCD_KEY: key }).store as { etcd: { tls: Record<string, string> } };
    assert.deepEqual(Object.keys(store.etcd.tls).sort(), ['caCertPem', 'certPem', 'keyPem']);
    fails([], { ...etcd, BERTH_ETCD_CACERT: cert }, /^BERTH_ETCD_CACERT: only meaningful with https:\/\/ BERTH_ETCD_ENDPOINTS/);
    fails([], { ...https, BERTH_ETCD_CERT: cert }, /^BERTH_ETCD_CERT and BERTH_ETCD_KEY: give both or neither$/);
    fails([], { ...https, BERTH_ETCD_CACERT: join(dir, 'missing.pem') }, /^BERTH_ETCD_CACERT: cannot read .*: ENOENT$/);
    fails([], { ...https, BERTH_ETCD_CERT: key, BERTH_ETCD_KEY: key }, /^BERTH_ETCD_CERT: .* holds no PEM certificate$/);
    const keyError = fails([], { ...https, BERTH_ETCD_CERT: cert, BERTH_ETCD_KEY: cert }, /^BERTH_ETCD_KEY: .* holds no PEM private key$/);
    assert.ok(!keyError.message.includes('MIIB'));
  });
});
