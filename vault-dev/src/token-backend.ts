// The `auth/token/` endpoints: create (and create-orphan), lookup, lookup-self, renew, renew-self,
// revoke, revoke-self, with Vault's request fields and response shapes.

import { formatTimestamp } from './duration.js';
import { boolField, durationField, intField, listField, stringField, stringMapField } from './fields.js';
import type { AuthBlock, LogicalBackend, LogicalRequest, LogicalResponse } from './logical.js';
import { tokenHash } from './ids.js';
import { DEFAULT_TOKEN_TTL_SECONDS, TokenStore, type TokenEntry } from './tokens.js';
import { badRequest, unsupportedOperation, unsupportedPath, VaultError } from './vault-error.js';

export class TokenBackend implements LogicalBackend {
  readonly mountType = 'token';

  constructor(private readonly tokens: TokenStore) {}

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
    const parentIsRoot = parent.policies.includes('root');
    const privileged = parentIsRoot || req.sudoAllowed;
    const data = req.data;

    const id = stringField(data, 'id');
    if (id !== undefined && id !== '' && !privileged) {
      throw badRequest('root or sudo privileges required to specify token id');
    }
    if (id && this.tokens.exists(id)) throw badRequest('cannot use a token ID that is in use');

    const noParent = orphanEndpoint || (boolField(data, 'no_parent') ?? false);
    if (noParent && !orphanEndpoint && !privileged) {
      throw badRequest('root or sudo privileges required to create orphan token');
    }

    const requested = listField(data, 'policies');
    let policies = requested && requested.length > 0 ? requested.map((p) => p.toLowerCase()) : parent.policies;
    if (!privileged) {
      const allowed = new Set([...parent.policies, 'default']);
      if (policies.some((p) => !allowed.has(p))) throw badRequest('child policies must be subset of parent');
    }
    if (!(boolField(data, 'no_default_policy') ?? false) && !policies.includes('root')) {
      policies = [...policies, 'default'];
    }
    policies = policies.includes('root') ? ['root'] : [...new Set(policies)].sort();

    const numUses = intField(data, 'num_uses') ?? 0;
    if (numUses < 0) throw badRequest('number of uses cannot be negative');
    const type = stringField(data, 'type');
    if (type !== undefined && type !== '' && type !== 'service' && type !== 'default') {
      throw badRequest(`vault-dev issues only service tokens, not "${type}" tokens`);
    }

    const explicitMaxTtl = durationField(data, 'explicit_max_ttl') ?? 0;
    let ttl = durationField(data, 'ttl') ?? 0;
    // A root-policy token created without a TTL never expires, like the root token itself.
    if (ttl === 0 && !(policies.length === 1 && policies[0] === 'root')) ttl = DEFAULT_TOKEN_TTL_SECONDS;
    if (explicitMaxTtl > 0 && ttl > explicitMaxTtl) ttl = explicitMaxTtl;

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
      parentHash: noParent ? null : tokenHash(req.clientToken),
      ...(id ? { id } : {}),
    });
    return { data: null, auth: authBlock(created.id, created.entry) };
  }

  private async renew(id: string, data: LogicalRequest['data']): Promise<LogicalResponse> {
    const entry = this.tokens.lookup(id);
    if (!entry) throw new VaultError(400, ['invalid lease ID']);
    if (entry.expiresAt === null || !entry.renewable) throw badRequest('lease is not renewable');
    const renewed = await this.tokens.renew(id, durationField(data, 'increment'));
    return { data: null, auth: authBlock(id, renewed) };
  }
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
