// Stored ACL policies (behind the barrier), with Vault's built-in `root` and `default` policies,
// and the ACL a token's policy list amounts to. Parsed policies are kept while their text is
// unchanged, so a request does not parse its token's policies again.

import { Acl } from './acl.js';
import type { Barrier } from './barrier.js';
import { parsePolicy, type Policy } from './policy.js';
import { badRequest } from './vault-error.js';

const PREFIX = 'sys/policy/';

/** The part of Vault's default policy that vault-dev's endpoints can use. */
export const DEFAULT_POLICY = `
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}
`;

export class PolicyStore {
  private readonly parsed = new Map<string, Policy>();

  constructor(private readonly barrier: Barrier) {}

  /** Writes the `default` policy; called once, when the vault is initialised. */
  async bootstrap(): Promise<void> {
    await this.barrier.put(PREFIX + 'default', DEFAULT_POLICY);
  }

  /** Policy names, as sys/policy lists them (`root` included, last). */
  names(): string[] {
    return [...this.barrier.list(PREFIX).filter((n) => !n.endsWith('/')), 'root'];
  }

  get(name: string): Policy | undefined {
    const normalized = name.toLowerCase();
    if (normalized === 'root') return { name: 'root', raw: '', rules: [] };
    const raw = this.barrier.get<string>(PREFIX + normalized);
    if (raw === undefined) return undefined;
    const cached = this.parsed.get(normalized);
    if (cached?.raw === raw) return cached;
    const policy = parsePolicy(normalized, raw);
    this.parsed.set(normalized, policy);
    return policy;
  }

  async set(name: string, raw: string): Promise<void> {
    const normalized = name.toLowerCase();
    if (normalized === 'root') throw badRequest('cannot update "root" policy');
    const policy = parsePolicy(normalized, raw);
    await this.barrier.put(PREFIX + normalized, raw);
    this.parsed.set(normalized, policy);
  }

  async delete(name: string): Promise<void> {
    const normalized = name.toLowerCase();
    if (normalized === 'root') throw badRequest('cannot delete "root" policy');
    if (normalized === 'default') throw badRequest('cannot delete default policy');
    await this.barrier.delete(PREFIX + normalized);
    this.parsed.delete(normalized);
  }

  /** Drops the parsed policies, as sealing drops everything decrypted. */
  forget(): void {
    this.parsed.clear();
  }

  /** The ACL of a token holding `names`; unknown policy names grant nothing, as in Vault. */
  aclFor(names: readonly string[]): Acl {
    const root = names.includes('root');
    const policies = root ? [] : names.map((n) => this.get(n)).filter((p): p is Policy => p !== undefined);
    return new Acl(policies, root);
  }
}
