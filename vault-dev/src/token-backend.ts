// The `auth/token/` endpoints: create (and create-orphan), lookup, lookup-self, renew, renew-self,
// revoke, revoke-self, with Vault's request fields, rules (handleCreateCommon's checks, TTLs bounded
// by the max lease TTL) and response shapes.

import { formatTimestamp } from './duration.js';
import { boolField, durationField, intField, listField, stringField, stringMapField } from './fields.js';
import type { AuthBlock, LogicalBackend, LogicalRequest, LogicalResponse } from './logical.js';
import { tokenHash } from './ids.js';
import { calculateTtl, type LeaseLimits } from './lease-ttl.js';
import { TokenStore, type TokenEntry } from './tokens.js';
import { badRequest, unsupportedOperation, unsupportedPath, VaultError } from './vault-error.js';

export class TokenBackend implements LogicalBackend {
  readonly mountType = 'token';

  constructor(
    private readonly tokens: TokenStore,
    private readonly limits: LeaseLimits,
  ) {}

  async handle(req: LogicalRequest): Promise<LogicalResponse | undefined> {
    const write = req.operation === 'update' || req.operation === 'create';
    switch (req.path) {
      case 'create':
      case 'create-orphan':
        if (!write) throw unsupportedOperation();
        return this.create(req, req.path === 'create-orphan');
      case 'lookup-self':
        if (!write && req.operation !== 'read') throw unsupportedOperation();
        return lookupResponse(req.clientToken, req.token);
      case 'lookup': {
        if (!write && req.operation !== 'read') throw unsupportedOperation();
        const id = stringField(req.data, 'token') || req.clientToken;
        const entry = this.tokens.lookup(id);
        if (!entry) throw new VaultError(403, ['bad token']);
        return lookupResponse(id, entry);
      }
      case 'renew-self':
      case 'renew': {
        if (!write) throw unsupportedOperation();
        const id = req.path === 'renew' ? stringField(req.data, 'token') : req.clientToken;
        if (!id) throw badRequest('missing token ID');
        return this.renew(id, req.data);
      }
      case 'revoke-self':
        if (!write) throw unsupportedOperation();
        await this.tokens.revoke(req.clientToken);
        return undefined;
      case 'revoke': {
        if (!write) throw unsupportedOperation();
        const id = stringField(req.data, 'token');
        if (!id) throw badRequest('missing token ID');
        await this.tokens.revoke(id);
        return undefined;
      }
      default:
        throw unsupportedPath();
    }
  }

  private async create(req: LogicalRequest, orphanEndpoint: boolean): Promise<LogicalResponse> {
    const parent = req.token;
    // Vault's "sudo" here: the root policy, or sudo on this path.
    const isSudo = parent.policies.includes('root') || req.sudoAllowed;
    const data = req.data;
    const warnings: string[] = [];

    const numUses = intField(data, 'num_uses') ?? 0;
    if (numUses < 0) throw badRequest('number of uses cannot be negative');
    const type = stringField(data, 'type');
    if (type !== undefined && type !== '' && type !== 'service' && type !== 'default') {
      throw badRequest(`vault-dev issues only service tokens, not "${type}" tokens`);
    }
    if ((durationField(data, 'period') ?? 0) > 0) throw badRequest('vault-dev does not issue periodic tokens');

    const id = stringField(data, 'id');
    if (id && !isSudo) throw badRequest('root or sudo privileges required to specify token id');
    if (id && this.tokens.exists(id)) throw badRequest('cannot use a token ID that is in use');

    const policies = childPolicies(parent.policies, data, isSudo);

    const noParent = boolField(data, 'no_parent') ?? false;
    if (noParent && !isSudo) throw badRequest('root or sudo privileges required to create orphan token');
    const orphan = noParent || orphanEndpoint;

    let explicitMaxTtl = durationField(data, 'explicit_max_ttl') ?? 0;
    if (explicitMaxTtl > this.limits.maxLeaseTtl) {
      warnings.push(
        `Explicit max TTL of ${explicitMaxTtl} seconds is greater than system/mount allowed value; value is being capped to ${this.limits.maxLeaseTtl} seconds`,
      );
      explicitMaxTtl = this.limits.maxLeaseTtl;
    }
    const issuedAt = Date.now();
    let ttl = durationField(data, 'ttl') ?? 0;
    // Only a root token asked for without a TTL may never expire; every other TTL is bounded.
    if (ttl > 0 || !policies.includes('root')) {
      const granted = calculateTtl(this.limits, { increment: 0, tokenTtl: ttl, explicitMaxTtl, issuedAt, now: issuedAt });
      ttl = granted.ttl;
      warnings.push(...granted.warnings);
    }
    if (ttl === 0 && explicitMaxTtl > 0) ttl = explicitMaxTtl;
    if (ttl === 0 && parent.creationTtl !== 0) {
      throw badRequest('expiring root tokens cannot create non-expiring root tokens');
    }

    const displayName = stringField(data, 'display_name');
    const created = await this.tokens.create({
      policies,
      meta: stringMapField(data, 'meta') ?? null,
      displayName: displayName ? `token-${displayName.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}` : 'token',
      numUses,
      ttl,
      explicitMaxTtl,
      renewable: boolField(data, 'renewable') ?? true,
      path: orphanEndpoint ? 'auth/token/create-orphan' : 'auth/token/create',
      parentHash: orphan ? null : tokenHash(req.clientToken),
      issuedAt,
      ...(id ? { id } : {}),
    });
    return { data: null, auth: authBlock(created.id, created.entry), ...(warnings.length ? { warnings } : {}) };
  }

  private async renew(id: string, data: LogicalRequest['data']): Promise<LogicalResponse> {
    const entry = this.tokens.lookup(id);
    if (!entry) throw new VaultError(400, ['invalid lease ID']);
    if (entry.expiresAt === null || !entry.renewable) throw badRequest('lease is not renewable');
    const { ttl, warnings } = calculateTtl(this.limits, {
      increment: durationField(data, 'increment') ?? 0,
      tokenTtl: entry.creationTtl,
      explicitMaxTtl: entry.explicitMaxTtl,
      issuedAt: entry.issuedAt,
      now: Date.now(),
    });
    const renewed = await this.tokens.renew(id, ttl);
    return { data: null, auth: authBlock(id, renewed), ...(warnings.length ? { warnings } : {}) };
  }
}

/** Policies Vault never lets a token hold. */
const NON_ASSIGNABLE_POLICIES = new Set(['response-wrapping', 'control-group']);

/**
 * The child's policies by Vault's rules: the parent's when none are asked for; otherwise a subset
 * of the parent's unless the caller has sudo; `default` added as Vault adds it. Sudo never makes a
 * root token: only a root parent can.
 */
function childPolicies(parentPolicies: readonly string[], data: LogicalRequest['data'], isSudo: boolean): string[] {
  const requested = listField(data, 'policies') ?? [];
  const noDefault = boolField(data, 'no_default_policy') ?? false;
  let chosen: string[];
  let addDefault: boolean;
  if (requested.length === 0) {
    chosen = [...parentPolicies];
    addDefault = false;
  } else if (!isSudo) {
    const parentSet = new Set(sanitizePolicies(parentPolicies, false));
    if (!sanitizePolicies(requested, false).every((p) => parentSet.has(p))) {
      throw badRequest('child policies must be subset of parent');
    }
    chosen = requested;
    addDefault = !noDefault && parentPolicies.includes('default');
  } else {
    chosen = requested;
    addDefault = !noDefault;
  }
  let policies = sanitizePolicies(chosen, addDefault);
  if (noDefault) policies = policies.filter((p) => p !== 'default');
  for (const policy of policies) {
    if (NON_ASSIGNABLE_POLICIES.has(policy)) throw badRequest(`cannot assign policy "${policy}"`);
  }
  if (policies.includes('root') && !parentPolicies.includes('root')) {
    throw badRequest('root tokens may not be created without parent token being root');
  }
  return policies;
}

/** Vault's policyutil.SanitizePolicies: lower case, no blanks, `root` alone when present, sorted, unique. */
function sanitizePolicies(policies: readonly string[], addDefault: boolean): string[] {
  const cleaned = policies.map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  if (cleaned.includes('root')) return ['root'];
  if (addDefault && !cleaned.includes('default')) cleaned.push('default');
  return [...new Set(cleaned)].sort();
}

export function authBlock(id: string, entry: TokenEntry): AuthBlock {
  return {
    client_token: id,
    accessor: entry.accessor,
    policies: entry.policies,
    token_policies: entry.policies,
    metadata: entry.meta,
    lease_duration: TokenStore.remainingTtl(entry),
    renewable: entry.renewable,
    entity_id: '',
    token_type: 'service',
    orphan: entry.parentHash === null,
    mfa_requirement: null,
    num_uses: entry.numUses,
  };
}

function lookupResponse(id: string, entry: TokenEntry): LogicalResponse {
  return {
    data: {
      accessor: entry.accessor,
      creation_time: Math.floor(entry.issuedAt / 1000),
      creation_ttl: entry.creationTtl,
      display_name: entry.displayName,
      entity_id: '',
      expire_time: entry.expiresAt === null ? null : formatTimestamp(entry.expiresAt),
      explicit_max_ttl: entry.explicitMaxTtl,
      id,
      issue_time: formatTimestamp(entry.issuedAt),
      meta: entry.meta,
      num_uses: entry.numUses,
      orphan: entry.parentHash === null,
      path: entry.path,
      policies: entry.policies,
      renewable: entry.renewable,
      ttl: TokenStore.remainingTtl(entry),
      type: 'service',
    },
  };
}
