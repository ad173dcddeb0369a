// The sys endpoints Vault serves outside the logical request path, because they must work while
// sealed or uninitialised: sys/init, sys/unseal, sys/seal-status, sys/seal, sys/health, sys/leader.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VaultCore } from './core.js';
import { boolField, intField, listField } from './fields.js';
import { clientToken, parseGoBool, parseJsonObject, readBody, sendJson, sendNoContent } from './http-io.js';
import { VAULT_VERSION } from './version.js';
import { badRequest, methodNotAllowed, sealedError, VaultError } from './vault-error.js';

export type SysEndpoint = (core: VaultCore, req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

/** By path below /v1/. A Map: a request path is looked up among these keys only, never inherited ones. */
export const SYS_ENDPOINTS: ReadonlyMap<string, SysEndpoint> = new Map([
  ['sys/init', sysInit],
  ['sys/unseal', sysUnseal],
  ['sys/seal-status', sysSealStatus],
  ['sys/seal', sysSeal],
  ['sys/health', sysHealth],
  ['sys/leader', sysLeader],
]);

async function sysInit(core: VaultCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === 'GET') return sendJson(res, 200, { initialized: core.initialized });
  if (req.method !== 'PUT' && req.method !== 'POST') throw methodNotAllowed();
  const body = parseJsonObject(await readBody(req));
  const recovery = ['recovery_shares', 'recovery_threshold', 'recovery_pgp_keys'].filter((k) => isSet(body[k]));
  if (recovery.length > 0) {
    throw badRequest(`parameters ${recovery.join(',')} not applicable to seal type shamir`);
  }
  if ((listField(body, 'pgp_keys') ?? []).length > 0 || isSet(body['root_token_pgp_key'])) {
    throw badRequest('vault-dev does not support PGP-encrypted key shares');
  }
  const shares = intField(body, 'secret_shares') ?? 0;
  const threshold = intField(body, 'secret_threshold') ?? 0;
  const { keys, rootToken } = await core.initialize(shares, threshold);
  sendJson(res, 200, {
    keys: keys.map((k) => k.toString('hex')),
    keys_base64: keys.map((k) => k.toString('base64')),
    root_token: rootToken,
  });
}

async function sysUnseal(core: VaultCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'PUT' && req.method !== 'POST') throw methodNotAllowed();
  const body = parseJsonObject(await readBody(req));
  // Vault decodes this body into a struct without JSON tags: field names match case-insensitively.
  const field = (name: string) => Object.entries(body).find(([k]) => k.toLowerCase() === name)?.[1];
  if (boolField({ reset: field('reset') }, 'reset')) {
    if (!core.sealed) throw badRequest('vault is unsealed');
    core.resetUnseal();
    return sendJson(res, 200, core.sealStatus());
  }
  const keyText = field('key');
  if (typeof keyText !== 'string' || keyText === '') {
    throw badRequest("'key' must be specified in request body as JSON, or 'reset' set to true");
  }
  await core.submitUnsealKey(decodeUnsealKey(keyText));
  sendJson(res, 200, core.sealStatus());
}

/** Hex first; base64 when the text is not hex or decodes to an impossible key length (as Vault does). */
function decodeUnsealKey(text: string): Buffer {
  if (/^([0-9a-fA-F]{2})+$/.test(text)) {
    const hex = Buffer.from(text, 'hex');
    if (hex.length >= 16 && hex.length <= 33) return hex;
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw badRequest("'key' must be a valid hex or base64 string");
  }
  return Buffer.from(text, 'base64');
}

async function sysSealStatus(core: VaultCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET') throw methodNotAllowed();
  sendJson(res, 200, core.sealStatus());
}

async function sysSeal(core: VaultCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'PUT' && req.method !== 'POST') throw methodNotAllowed();
  await readBody(req);
  await core.seal(clientToken(req));
  sendNoContent(res);
}

/**
 * Status code by state: 200 active, 429 standby (never, vault-dev has no HA), 501 not initialised,
 * 503 sealed; each overridable by a query parameter. A malformed override, or one that is not a final
 * HTTP status (200-599), is a 400: Node cannot send 1000, and 0 or -1 are no status at all.
 */
async function sysHealth(core: VaultCore, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed();
  const query = url.searchParams;
  const code = (name: string, fallback: number): number => {
    const raw = query.get(name);
    if (raw === null) return fallback;
    const status = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(status >= 200 && status <= 599)) throw new VaultError(400, []);
    return status;
  };
  for (const flag of ['standbyok', 'perfstandbyok']) {
    const raw = query.get(flag);
    if (raw !== null && parseGoBool(raw) === undefined) {
      throw new VaultError(400, [`bad value for ${flag} parameter: strconv.ParseBool: parsing "${raw}": invalid syntax`]);
    }
  }
  const uninitCode = code('uninitcode', 501);
  const sealedCode = code('sealedcode', 503);
  const activeCode = code('activecode', 200);
  // Parsed so a malformed value is rejected as Vault rejects it; vault-dev is never in these states.
  for (const [name, fallback] of [
    ['standbycode', 429],
    ['drsecondarycode', 472],
    ['performancestandbycode', 473],
    ['removedcode', 530],
    ['haunhealthycode', 474],
  ] as const) {
    code(name, fallback);
  }

  const status = !core.initialized ? uninitCode : core.sealed ? sealedCode : activeCode;
  const cluster = core.cluster;
  const body = {
    initialized: core.initialized,
    sealed: core.sealed,
    standby: false,
    performance_standby: false,
    replication_performance_mode: 'disabled',
    replication_dr_mode: 'disabled',
    server_time_utc: Math.floor(Date.now() / 1000),
    version: VAULT_VERSION,
    enterprise: false,
    ...(cluster ? { cluster_name: cluster.name, cluster_id: cluster.id } : {}),
    echo_duration_ms: 0,
    clock_skew_ms: 0,
    replication_primary_canary_age_ms: 0,
  };
  if (req.method === 'HEAD') {
    res.setHeader('Content-Type', 'application/json');
    res.writeHead(status);
    res.end();
    return;
  }
  sendJson(res, status, body);
}

async function sysLeader(core: VaultCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET') throw methodNotAllowed();
  if (core.sealed) throw sealedError();
  sendJson(res, 200, {
    ha_enabled: false,
    is_self: false,
    active_time: '0001-01-01T00:00:00Z',
    leader_address: '',
    leader_cluster_address: '',
    performance_standby: false,
    performance_standby_last_remote_wal: 0,
  });
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== 0 && value !== '' && !(Array.isArray(value) && !value.length);
}
