// Settings: the environment and matching command-line flags, read once into one typed, validated object.
// A malformed or unknown setting is a SettingsError (setting-values.ts reads each value), which main.ts prints as one line.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import type { SecretStoreSettings } from './secrets/secret-store.js';
import type { TowerSettings } from './sites/tower-client.js';
import type { StoreSettings } from './store/open-store.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import type { OidcSettings } from './auth/oidc/oidc-authenticator.js';
import { parseRoleMapping, RoleMappingError } from './auth/oidc/role-mapping.js';
import type { AuditRetention } from './audit/audit-trail.js';
import {
  parseAge,
  parseBodyLimit,
  parseBoolean,
  parseCount,
  parseEtcdEndpoints,
  parseBound,
  parseListenAddress,
  parseLogLevel,
  parseMirrorUrl,
  parsePullHistory,
  readPemFile,
  SettingsError,
  type ListenAddress,
  type LogLevel,
} from './setting-values.js';

export { parseListenAddress, SettingsError, type ListenAddress, type LogLevel };

export interface Settings {
  listen: ListenAddress;
  dataDir: string;
  adminToken: string | undefined;
  logLevel: LogLevel;
  /** Largest accepted /v1 request body in bytes. */
  bodyLimitBytes: number;
  /** How long a client may take to send a whole request, headers and body (408 after). */
  requestTimeoutMs: number;
  /** Whether the site registry (/v2) serves GET and HEAD without credentials, for site-local runtimes. */
  registryAnonymousPull: boolean;
  /** How the site's runtimes reach this site registry, for the hosts.toml of pull-through (BERTH_REGISTRY_MIRROR_*). */
  registryMirror: RegistryMirrorSettings;
  /** The Vault-compatible secret store (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT); absent when VAULT_ADDR is unset. */
  secretStore: SecretStoreSettings | undefined;
  /** This Berth's name among sites (BERTH_SITE_NAME); a `?site=` naming it is served here. */
  siteName: string;
  /** Set at a site only: the control tower whose configuration it follows (BERTH_TOWER_URL, _TOKEN, _CACERT). */
  tower: TowerSettings | undefined;
  /**
   * BERTH_SITES_ALLOW_HTTP: whether tokens between a tower and its sites may travel over http:// (sites' api-urls at
   * a tower, BERTH_TOWER_URL at a site). Off by default; for loopback and lab set-ups.
   */
  sitesAllowHttp: boolean;
  /** The ConfigStore engine (BERTH_STORE): the embedded SQLite file, or an etcd cluster several Berths share. */
  store: StoreSettings;
  /** `?sites=`: sites called at once (BERTH_FANOUT_CONCURRENCY) and each one's time limit (BERTH_FANOUT_TIMEOUT, seconds). */
  fanOut: { concurrency: number; timeoutMs: number };
  /** At a site: how often the tags of desired images are resolved again (BERTH_SITE_IMAGES_RESOLVE_INTERVAL, seconds; 0 never). */
  siteImages: { resolveIntervalMs: number };
  /** What one request, operation or client may make Berth fetch, hold or compute (limits.ts). */
  limits: Limits;
  /** Single sign-on with an OpenID Provider's access tokens (BERTH_OIDC_*); absent when BERTH_OIDC_ISSUER is unset. */
  oidc: OidcSettings | undefined;
  /** How many finished pulls /v1/state/image-registry/pulls keeps listing (BERTH_PULL_HISTORY). */
  pullHistory: number;
  /** How much of the audit trail is kept (BERTH_AUDIT_MAX_ENTRIES, BERTH_AUDIT_MAX_AGE). */
  auditRetention: AuditRetention;
  metrics: MetricsSettings;
}

export interface RegistryMirrorSettings {
  /** BERTH_REGISTRY_MIRROR_URL: the site registry's URL as runtimes reach it; default the origin a request reached. */
  url?: string;
  /** BERTH_REGISTRY_MIRROR_CA: the CA (PEM) of its https certificate, which runtimes are told to trust. */
  caCertPem?: string;
}

export interface MetricsSettings {
  /** BERTH_METRICS_ANONYMOUS: /metrics without a token (for a scraper on a trusted network). */
  anonymous: boolean;
  /** BERTH_METRICS_SITE_SERIES: with more sites than this, per-site series give way to aggregates. */
  siteSeries: number;
  /** BERTH_METRICS_REPOSITORY_LABELS: pull metrics carry the repository (unbounded values; off by default). */
  repositoryLabels: boolean;
}

/** Each setting: its environment variable, its flag, and how to parse it. */
const SETTINGS = {
  listen: { env: 'BERTH_LISTEN', flag: 'listen', fallback: '127.0.0.1:4646' },
  dataDir: { env: 'BERTH_DATA_DIR', flag: 'data-dir', fallback: './data' },
  adminToken: { env: 'BERTH_ADMIN_TOKEN', flag: 'admin-token', fallback: undefined },
  logLevel: { env: 'BERTH_LOG_LEVEL', flag: 'log-level', fallback: 'info' },
  bodyLimit: { env: 'BERTH_BODY_LIMIT', flag: 'body-limit', fallback: '1048576' },
  requestTimeout: { env: 'BERTH_REQUEST_TIMEOUT', flag: 'request-timeout', fallback: '300' },
  anonymousPull: { env: 'BERTH_REGISTRY_ANONYMOUS_PULL', flag: 'registry-anonymous-pull', fallback: 'false' },
  registryMirrorUrl: { env: 'BERTH_REGISTRY_MIRROR_URL', flag: 'registry-mirror-url', fallback: undefined },
  registryMirrorCa: { env: 'BERTH_REGISTRY_MIRROR_CA', flag: 'registry-mirror-ca', fallback: undefined },
  siteName: { env: 'BERTH_SITE_NAME', flag: 'site-name', fallback: 'control-tower' },
  towerUrl: { env: 'BERTH_TOWER_URL', flag: 'tower-url', fallback: undefined },
  towerToken: { env: 'BERTH_TOWER_TOKEN', flag: 'tower-token', fallback: undefined },
  towerCaCert: { env: 'BERTH_TOWER_CACERT', flag: 'tower-cacert', fallback: undefined },
  sitesAllowHttp: { env: 'BERTH_SITES_ALLOW_HTTP', flag: 'sites-allow-http', fallback: 'false' },
  store: { env: 'BERTH_STORE', flag: 'store', fallback: 'sqlite' },
  etcdEndpoints: { env: 'BERTH_ETCD_ENDPOINTS', flag: 'etcd-endpoints', fallback: undefined },
  etcdCaCert: { env: 'BERTH_ETCD_CACERT', flag: 'etcd-cacert', fallback: undefined },
  etcdCert: { env: 'BERTH_ETCD_CERT', flag: 'etcd-cert', fallback: undefined },
  etcdKey: { env: 'BERTH_ETCD_KEY', flag: 'etcd-key', fallback: undefined },
  etcdUsername: { env: 'BERTH_ETCD_USERNAME', flag: 'etcd-username', fallback: undefined },
  etcdPassword: { env: 'BERTH_ETCD_PASSWORD', flag: 'etcd-password', fallback: undefined },
  etcdPrefix: { env: 'BERTH_ETCD_PREFIX', flag: 'etcd-prefix', fallback: '/berth/' },
  fanOutConcurrency: { env: 'BERTH_FANOUT_CONCURRENCY', flag: 'fanout-concurrency', fallback: '32' },
  fanOutTimeout: { env: 'BERTH_FANOUT_TIMEOUT', flag: 'fanout-timeout', fallback: '30' },
  siteImagesResolveInterval: { env: 'BERTH_SITE_IMAGES_RESOLVE_INTERVAL', flag: 'site-images-resolve-interval', fallback: '900' },
  maxManifestBytes: { env: 'BERTH_MAX_MANIFEST_BYTES', flag: 'max-manifest-bytes', fallback: String(DEFAULT_LIMITS.manifestBytes) },
  maxConfigBytes: { env: 'BERTH_MAX_CONFIG_BYTES', flag: 'max-config-bytes', fallback: String(DEFAULT_LIMITS.configBytes) },
  maxManifestEntries: { env: 'BERTH_MAX_MANIFEST_ENTRIES', flag: 'max-manifest-entries', fallback: String(DEFAULT_LIMITS.manifestEntries) },
  maxPullManifestBytes: { env: 'BERTH_MAX_PULL_MANIFEST_BYTES', flag: 'max-pull-manifest-bytes', fallback: String(DEFAULT_LIMITS.pullManifestBytes) },
  operationFetches: { env: 'BERTH_OPERATION_FETCHES', flag: 'operation-fetches', fallback: String(DEFAULT_LIMITS.operationFetches) },
  remoteFetches: { env: 'BERTH_REMOTE_FETCHES', flag: 'remote-fetches', fallback: String(DEFAULT_LIMITS.remoteFetches) },
  maxPatchOperations: { env: 'BERTH_MAX_PATCH_OPERATIONS', flag: 'max-patch-operations', fallback: String(DEFAULT_LIMITS.patchOperations) },
  uploadSessions: { env: 'BERTH_UPLOAD_SESSIONS', flag: 'upload-sessions', fallback: String(DEFAULT_LIMITS.uploadSessions) },
  uploadSessionsPerToken: { env: 'BERTH_UPLOAD_SESSIONS_PER_TOKEN', flag: 'upload-sessions-per-token', fallback: String(DEFAULT_LIMITS.uploadSessionsPerToken) },
  uploadIdleTimeout: { env: 'BERTH_UPLOAD_IDLE_TIMEOUT', flag: 'upload-idle-timeout', fallback: String(DEFAULT_LIMITS.uploadIdleMs / 1000) },
  oidcIssuer: { env: 'BERTH_OIDC_ISSUER', flag: 'oidc-issuer', fallback: undefined },
  oidcAudience: { env: 'BERTH_OIDC_AUDIENCE', flag: 'oidc-audience', fallback: undefined },
  oidcClientId: { env: 'BERTH_OIDC_CLIENT_ID', flag: 'oidc-client-id', fallback: undefined },
  oidcCaCert: { env: 'BERTH_OIDC_CA_CERT', flag: 'oidc-ca-cert', fallback: undefined },
  oidcRoles: { env: 'BERTH_OIDC_ROLES', flag: 'oidc-roles', fallback: undefined },
  oidcGroupsClaim: { env: 'BERTH_OIDC_GROUPS_CLAIM', flag: 'oidc-groups-claim', fallback: undefined },
  pullHistory: { env: 'BERTH_PULL_HISTORY', flag: 'pull-history', fallback: '100' },
  auditMaxEntries: { env: 'BERTH_AUDIT_MAX_ENTRIES', flag: 'audit-max-entries', fallback: '100000' },
  auditMaxAge: { env: 'BERTH_AUDIT_MAX_AGE', flag: 'audit-max-age', fallback: '365d' },
  metricsAnonymous: { env: 'BERTH_METRICS_ANONYMOUS', flag: 'metrics-anonymous', fallback: 'false' },
  metricsSiteSeries: { env: 'BERTH_METRICS_SITE_SERIES', flag: 'metrics-site-series', fallback: '100' },
  metricsRepositoryLabels: { env: 'BERTH_METRICS_REPOSITORY_LABELS', flag: 'metrics-repository-labels', fallback: 'false' },
} as const;

type Setting = (typeof SETTINGS)[keyof typeof SETTINGS];

const MiB = 1024 * 1024;

function readLimits(value: (s: Setting) => string | undefined): Limits {
  const bound = (s: Setting, min: number, max: number) => parseBound(value(s) ?? '', s.env, min, max);
  return {
    manifestBytes: bound(SETTINGS.maxManifestBytes, 4096, 64 * MiB),
    configBytes: bound(SETTINGS.maxConfigBytes, 4096, 64 * MiB),
    manifestEntries: bound(SETTINGS.maxManifestEntries, 1, 100_000),
    pullManifestBytes: bound(SETTINGS.maxPullManifestBytes, 4096, 1024 * MiB),
    operationFetches: bound(SETTINGS.operationFetches, 1, 64),
    remoteFetches: bound(SETTINGS.remoteFetches, 1, 256),
    patchOperations: bound(SETTINGS.maxPatchOperations, 1, 100_000),
    uploadSessions: bound(SETTINGS.uploadSessions, 1, 100_000),
    uploadSessionsPerToken: bound(SETTINGS.uploadSessionsPerToken, 1, 100_000),
    uploadIdleMs: bound(SETTINGS.uploadIdleTimeout, 1, 7 * 24 * 3600) * 1000,
  };
}

/** The audit trail's retention: entries (0 = no count limit) and an age like `365d`, `12h`, `90m` (0 = no age limit). */
function parseAuditRetention(entries: string, age: string): AuditRetention {
  const maxEntries = parseCount(entries, 'BERTH_AUDIT_MAX_ENTRIES', 100_000_000, 'a number of entries (0: no limit)');
  const maxAgeMs = parseAge(age, 'BERTH_AUDIT_MAX_AGE');
  return { maxEntries: maxEntries === 0 ? undefined : maxEntries, maxAgeMs: maxAgeMs === 0 ? undefined : maxAgeMs };
}

/** The secret store is configured with the variables Vault's own tools use. */
function readSecretStore(env: NodeJS.ProcessEnv): SecretStoreSettings | undefined {
  const address = env.VAULT_ADDR;
  if (!address) return undefined;
  // Never echo what may hold user info (a password): refused before any message could quote it.
  if (address.includes('@')) throw new SettingsError('VAULT_ADDR: no credentials in the URL; Berth authenticates with VAULT_TOKEN');
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new SettingsError(`VAULT_ADDR: expected an http:// or https:// URL, got '${address}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SettingsError(`VAULT_ADDR: expected an http:// or https:// URL, got '${address}'`);
  const token = env.VAULT_TOKEN;
  if (!token) throw new SettingsError('VAULT_TOKEN: required when VAULT_ADDR is set');
  let caCertPem: string | undefined;
  if (env.VAULT_CACERT) {
    try {
      caCertPem = readFileSync(env.VAULT_CACERT, 'utf8');
    } catch (e) {
      throw new SettingsError(`VAULT_CACERT: cannot read ${env.VAULT_CACERT}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  return { address: address.replace(/\/+$/, ''), token, ...(caCertPem ? { caCertPem } : {}) };
}

/** Site names as the contract's SiteName: a DNS label, so a name is safe in URLs, logs and store keys. */
const SITE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * This Berth's place among sites. BERTH_TOWER_URL makes it a site following that tower, so it needs the token it
 * presents there and a name of its own (the default `control-tower` would be taken for the tower itself).
 */
function readSiteSettings(value: (s: (typeof SETTINGS)[keyof typeof SETTINGS]) => string | undefined, explicitSiteName: boolean, allowHttp: boolean) {
  const siteName = value(SETTINGS.siteName) ?? '';
  if (!SITE_NAME.test(siteName)) {
    throw new SettingsError(`BERTH_SITE_NAME: expected 1 to 63 lowercase letters, digits and inner '-', got '${siteName}'`);
  }
  const url = value(SETTINGS.towerUrl);
  const token = value(SETTINGS.towerToken);
  const caCertFile = value(SETTINGS.towerCaCert);
  if (url === undefined || url === '') {
    if (token !== undefined) throw new SettingsError('BERTH_TOWER_TOKEN: only meaningful with BERTH_TOWER_URL');
    if (caCertFile !== undefined) throw new SettingsError('BERTH_TOWER_CACERT: only meaningful with BERTH_TOWER_URL');
    return { siteName, tower: undefined };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SettingsError(`BERTH_TOWER_URL: expected an http:// or https:// URL, got '${url}'`);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new SettingsError(`BERTH_TOWER_URL: expected an http:// or https:// URL without user info, query or fragment, got '${url}'`);
  }
  if (parsed.protocol === 'http:' && !allowHttp) {
    throw new SettingsError(`BERTH_TOWER_URL: '${url}' is http://, so this site's token would travel in clear; use https:// or set BERTH_SITES_ALLOW_HTTP=true`);
  }
  if (!explicitSiteName) throw new SettingsError('BERTH_SITE_NAME: required with BERTH_TOWER_URL (a site names itself to its tower)');
  if (!token || !/^[\x21-\x7e]{16,4096}$/.test(token)) {
    throw new SettingsError('BERTH_TOWER_TOKEN: required with BERTH_TOWER_URL: 16 to 4096 printable characters without spaces');
  }
  let caCertPem: string | undefined;
  if (caCertFile !== undefined) {
    if (parsed.protocol !== 'https:') throw new SettingsError('BERTH_TOWER_CACERT: only meaningful with an https:// BERTH_TOWER_URL');
    try {
      caCertPem = readFileSync(caCertFile, 'utf8');
    } catch (e) {
      throw new SettingsError(`BERTH_TOWER_CACERT: cannot read ${caCertFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    if (!caCertPem.includes('-----BEGIN CERTIFICATE-----')) throw new SettingsError(`BERTH_TOWER_CACERT: ${caCertFile} holds no PEM certificate`);
  }
  const tower: TowerSettings = { url: url.replace(/\/+$/, ''), token, ...(caCertPem ? { caCertPem } : {}) };
  return { siteName, tower };
}

/** BERTH_STORE and, for etcd, where the cluster is and how to authenticate to it. */
function readStoreSettings(value: (s: (typeof SETTINGS)[keyof typeof SETTINGS]) => string | undefined, given: (s: (typeof SETTINGS)[keyof typeof SETTINGS]) => boolean): StoreSettings {
  const engine = value(SETTINGS.store);
  const etcdSettings = [SETTINGS.etcdEndpoints, SETTINGS.etcdCaCert, SETTINGS.etcdCert, SETTINGS.etcdKey, SETTINGS.etcdUsername, SETTINGS.etcdPassword, SETTINGS.etcdPrefix];
  if (engine === 'sqlite') {
    // An etcd setting without BERTH_STORE=etcd is a mistake that would otherwise split the configuration silently.
    const stray = etcdSettings.find(given);
    if (stray) throw new SettingsError(`${stray.env}: only meaningful with BERTH_STORE=etcd`);
    return { engine };
  }
  if (engine !== 'etcd') throw new SettingsError(`BERTH_STORE: expected sqlite or etcd, got '${engine}'`);
  const endpointList = value(SETTINGS.etcdEndpoints);
  if (!endpointList) throw new SettingsError('BERTH_ETCD_ENDPOINTS: required with BERTH_STORE=etcd (comma-separated http(s)://HOST:PORT URLs)');
  const endpoints = parseEtcdEndpoints(endpointList);
  const secure = endpoints[0]!.startsWith('https:');
  const [caFile, certFile, keyFile] = [value(SETTINGS.etcdCaCert), value(SETTINGS.etcdCert), value(SETTINGS.etcdKey)];
  const tlsFile = [SETTINGS.etcdCaCert, SETTINGS.etcdCert, SETTINGS.etcdKey].find((s) => value(s) !== undefined);
  if (tlsFile && !secure) throw new SettingsError(`${tlsFile.env}: only meaningful with https:// BERTH_ETCD_ENDPOINTS`);
  if ((certFile === undefined) !== (keyFile === undefined)) throw new SettingsError('BERTH_ETCD_CERT and BERTH_ETCD_KEY: give both or neither');
  const tls = {
    ...(caFile !== undefined ? { caCertPem: readPemFile('BERTH_ETCD_CACERT', caFile, /-----BEGIN CERTIFICATE-----/) } : {}),
    ...(certFile !== undefined ? { certPem: readPemFile('BERTH_ETCD_CERT', certFile, /-----BEGIN CERTIFICATE-----/) } : {}),
    ...(keyFile !== undefined ? { keyPem: readPemFile('BERTH_ETCD_KEY', keyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/) } : {}),
  };
  const username = value(SETTINGS.etcdUsername);
  const password = value(SETTINGS.etcdPassword);
  if ((username === undefined) !== (password === undefined)) throw new SettingsError('BERTH_ETCD_USERNAME and BERTH_ETCD_PASSWORD: give both or neither');
  if (username !== undefined && !/^[\x21-\x7e]{1,128}$/.test(username)) {
    throw new SettingsError('BERTH_ETCD_USERNAME: expected 1 to 128 printable characters without spaces');
  }
  // The password's value is never part of a message.
  if (password === '') throw new SettingsError('BERTH_ETCD_PASSWORD: must not be empty');
  const prefix = value(SETTINGS.etcdPrefix) ?? '';
  // Ending in '/' keeps one prefix from being the start of another ('/berth' would also cover '/berth2/...').
  if (!/^[\x21-\x7e]*\/$/.test(prefix)) throw new SettingsError(`BERTH_ETCD_PREFIX: expected a key prefix of printable characters ending in '/', got '${prefix}'`);
  return {
    engine,
    etcd: {
      endpoints,
      prefix,
      ...(Object.keys(tls).length > 0 ? { tls } : {}),
      ...(username !== undefined && password !== undefined ? { auth: { username, password } } : {}),
    },
  };
}

/** BERTH_REGISTRY_MIRROR_URL and _CA: an http(s) URL with an optional path prefix; a CA only for an https one. */
function readRegistryMirror(value: (s: (typeof SETTINGS)[keyof typeof SETTINGS]) => string | undefined): RegistryMirrorSettings {
  const url = value(SETTINGS.registryMirrorUrl);
  const caFile = value(SETTINGS.registryMirrorCa);
  const parsed = url === undefined ? undefined : parseMirrorUrl(url);
  if (caFile !== undefined && parsed?.protocol !== 'https:') throw new SettingsError('BERTH_REGISTRY_MIRROR_CA: only meaningful with an https:// BERTH_REGISTRY_MIRROR_URL');
  return {
    ...(parsed ? { url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}` } : {}),
    ...(caFile !== undefined ? { caCertPem: readPemFile('BERTH_REGISTRY_MIRROR_CA', caFile, /-----BEGIN CERTIFICATE-----/) } : {}),
  };
}

/** BERTH_OIDC_*: off without an issuer (then every other OIDC setting is a mistake to report, not to ignore). */
function readOidcSettings(value: (s: (typeof SETTINGS)[keyof typeof SETTINGS]) => string | undefined): OidcSettings | undefined {
  const issuer = value(SETTINGS.oidcIssuer);
  const others = [SETTINGS.oidcAudience, SETTINGS.oidcClientId, SETTINGS.oidcCaCert, SETTINGS.oidcRoles, SETTINGS.oidcGroupsClaim];
  if (issuer === undefined || issuer === '') {
    const stray = others.find((s) => value(s) !== undefined);
    if (stray) throw new SettingsError(`${stray.env}: only meaningful with BERTH_OIDC_ISSUER`);
    return undefined;
  }
  let url: URL | undefined;
  try {
    url = new URL(issuer);
  } catch {
    url = undefined;
  }
  // Never echo what may hold a password.
  if (url?.username || url?.password) throw new SettingsError('BERTH_OIDC_ISSUER: no user info in the issuer URL');
  if (!url || url.protocol !== 'https:' || url.search || url.hash || /\s/.test(issuer)) {
    throw new SettingsError(`BERTH_OIDC_ISSUER: expected the issuer's https:// URL without query or fragment, got '${issuer}'`);
  }
  const printable = (setting: (typeof SETTINGS)[keyof typeof SETTINGS], max: number, what: string) => {
    const text = value(setting);
    if (text !== undefined && (!/^[\x21-\x7e]+$/.test(text) || text.length > max)) {
      throw new SettingsError(`${setting.env}: expected ${what} of 1 to ${max} printable characters without spaces, got '${text}'`);
    }
    return text;
  };
  const audience = printable(SETTINGS.oidcAudience, 512, 'the audience (aud) tokens for Berth carry');
  if (audience === undefined) throw new SettingsError('BERTH_OIDC_AUDIENCE: required with BERTH_OIDC_ISSUER (the audience, aud, of access tokens meant for Berth)');
  const clientId = printable(SETTINGS.oidcClientId, 256, 'a client id');
  const groupsClaim = printable(SETTINGS.oidcGroupsClaim, 128, 'a claim name') ?? 'groups';
  const rolesText = value(SETTINGS.oidcRoles);
  if (rolesText === undefined || rolesText.trim() === '') {
    throw new SettingsError('BERTH_OIDC_ROLES: required with BERTH_OIDC_ISSUER: which groups get which role, e.g. admin=berth-admins,operator=berth-ops,read=*');
  }
  let roles;
  try {
    roles = parseRoleMapping(rolesText);
  } catch (e) {
    if (e instanceof RoleMappingError) throw new SettingsError(`BERTH_OIDC_ROLES: ${e.message}`);
    throw e;
  }
  const caFile = value(SETTINGS.oidcCaCert);
  const caCertPem = caFile === undefined ? undefined : readPemFile('BERTH_OIDC_CA_CERT', caFile, /-----BEGIN CERTIFICATE-----/);
  return { issuer, audience, groupsClaim, roles, ...(clientId ? { clientId } : {}), ...(caCertPem ? { caCertPem } : {}) };
}

export function readSettings(argv: string[], env: NodeJS.ProcessEnv): Settings {
  const known = new Set<string>(Object.values(SETTINGS).map((s) => s.env));
  const unknown = Object.keys(env).filter((name) => name.startsWith('BERTH_') && !known.has(name));
  if (unknown.length > 0) throw new SettingsError(`unknown setting ${unknown.join(', ')} (known: ${[...known].join(', ')})`);

  let flags: Record<string, string | undefined>;
  try {
    const options = Object.fromEntries(Object.values(SETTINGS).map((s) => [s.flag, { type: 'string' as const }]));
    flags = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | undefined>;
  } catch (e) {
    throw new SettingsError((e as Error).message);
  }
  const value = (s: (typeof SETTINGS)[keyof typeof SETTINGS]): string | undefined => flags[s.flag] ?? env[s.env] ?? s.fallback;

  const adminToken = value(SETTINGS.adminToken);
  if (adminToken !== undefined && !/^[\x21-\x7e]{16,256}$/.test(adminToken)) {
    throw new SettingsError('BERTH_ADMIN_TOKEN: expected 16 to 256 printable characters without spaces');
  }
  const sitesAllowHttp = parseBoolean(value(SETTINGS.sitesAllowHttp) ?? '', SETTINGS.sitesAllowHttp.env);
  const dataDir = value(SETTINGS.dataDir) ?? '';
  if (dataDir.trim() === '') throw new SettingsError('BERTH_DATA_DIR: must not be empty');

  return {
    listen: parseListenAddress(value(SETTINGS.listen) ?? ''),
    dataDir,
    adminToken,
    logLevel: parseLogLevel(value(SETTINGS.logLevel) ?? ''),
    bodyLimitBytes: parseBodyLimit(value(SETTINGS.bodyLimit) ?? ''),
    requestTimeoutMs: parseBound(value(SETTINGS.requestTimeout) ?? '', SETTINGS.requestTimeout.env, 1, 24 * 3600) * 1000,
    registryAnonymousPull: parseBoolean(value(SETTINGS.anonymousPull) ?? '', SETTINGS.anonymousPull.env),
    registryMirror: readRegistryMirror(value),
    secretStore: readSecretStore(env),
    ...readSiteSettings(value, (flags[SETTINGS.siteName.flag] ?? env[SETTINGS.siteName.env]) !== undefined, sitesAllowHttp),
    sitesAllowHttp,
    store: readStoreSettings(value, (s) => (flags[s.flag] ?? env[s.env]) !== undefined),
    fanOut: {
      concurrency: parseCount(value(SETTINGS.fanOutConcurrency) ?? '', SETTINGS.fanOutConcurrency.env, 1000, 'a number of sites', 1),
      timeoutMs: parseCount(value(SETTINGS.fanOutTimeout) ?? '', SETTINGS.fanOutTimeout.env, 3600, 'a number of seconds', 1) * 1000,
    },
    siteImages: {
      resolveIntervalMs: parseCount(value(SETTINGS.siteImagesResolveInterval) ?? '', SETTINGS.siteImagesResolveInterval.env, 604800, 'a number of seconds') * 1000,
    },
    limits: readLimits(value),
    oidc: readOidcSettings(value),
    pullHistory: parsePullHistory(value(SETTINGS.pullHistory) ?? ''),
    auditRetention: parseAuditRetention(value(SETTINGS.auditMaxEntries) ?? '', value(SETTINGS.auditMaxAge) ?? ''),
    metrics: {
      anonymous: parseBoolean(value(SETTINGS.metricsAnonymous) ?? '', SETTINGS.metricsAnonymous.env),
      siteSeries: parseCount(value(SETTINGS.metricsSiteSeries) ?? '', SETTINGS.metricsSiteSeries.env, 100_000, 'a number of sites'),
      repositoryLabels: parseBoolean(value(SETTINGS.metricsRepositoryLabels) ?? '', SETTINGS.metricsRepositoryLabels.env),
    },
  };
}
