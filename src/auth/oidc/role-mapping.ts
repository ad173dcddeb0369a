// Which Berth role a single sign-on user gets: BERTH_OIDC_ROLES maps identity-provider groups to roles
// (`admin=berth-admins,operator=berth-ops,read=*`), and the highest role any of the user's groups maps to wins.
import type { Role } from '../principal.js';

/** The roles a group may map to, highest first (`site` is for the sites' own tokens, never a person). */
const GRANTABLE: readonly Role[] = ['admin', 'operator', 'read'];

/** `*` matches every user the issuer vouches for. */
export const ANY_GROUP = '*';

export interface RoleRule {
  role: Role;
  group: string;
}

export type RoleMapping = readonly RoleRule[];

export class RoleMappingError extends Error {}

/** Parses `role=group,role=group,...`; a role may appear several times (one group each). */
export function parseRoleMapping(text: string): RoleMapping {
  const rules: RoleRule[] = [];
  for (const part of text.split(',')) {
    const match = /^\s*([^=\s]+)\s*=\s*(\S(?:.*\S)?)\s*$/.exec(part);
    if (!match) throw new RoleMappingError(`expected comma-separated ROLE=GROUP pairs (e.g. admin=berth-admins,read=*), got '${part.trim()}'`);
    const role = GRANTABLE.find((r) => r === match[1]);
    if (!role) throw new RoleMappingError(`'${match[1]}' is not a role a group can map to (${GRANTABLE.join(', ')})`);
    const group = match[2]!;
    if (/[\x00-\x1f\x7f]/.test(group)) throw new RoleMappingError(`group of role '${role}' holds a control character`);
    if (!rules.some((r) => r.role === role && r.group === group)) rules.push({ role, group });
  }
  return rules;
}

/** The groups a claim value names: a list of strings, or one string (some providers send a lone group so). */
export function groupsOf(claim: unknown): string[] | undefined {
  if (typeof claim === 'string') return [claim];
  if (Array.isArray(claim) && claim.every((g) => typeof g === 'string')) return claim as string[];
  return undefined;
}

/** The highest role the groups earn, or undefined when no rule matches. */
export function roleFor(groups: readonly string[], mapping: RoleMapping): Role | undefined {
  const member = new Set(groups);
  return GRANTABLE.find((role) => mapping.some((rule) => rule.role === role && (rule.group === ANY_GROUP || member.has(rule.group))));
}

/** For the 403: the groups that would give a role, as `group (role)`. */
export function describeMapping(mapping: RoleMapping): string {
  return mapping.map((rule) => `${rule.group} (${rule.role})`).join(', ');
}
