// The logical part of `sys/`: the mount table (sys/mounts), ACL policies (sys/policy,
// sys/policies/acl) and what the caller's token may do (sys/capabilities-self). The seal-related sys
// endpoints are served before the barrier (sys-endpoints.ts).

import { boolField, listField, mapField, stringField } from './fields.js';
import type { LogicalBackend, LogicalRequest, LogicalResponse } from './logical.js';
import { kvMount, mountInfo, type MountTable } from './mounts.js';
import type { PolicyStore } from './policy-store.js';
import { badRequest, unsupportedOperation, unsupportedPath } from './vault-error.js';

export class SysBackend implements LogicalBackend {
  readonly mountType = 'system';

  constructor(
    private readonly mounts: MountTable,
    private readonly policies: PolicyStore,
  ) {}

  async handle(req: LogicalRequest): Promise<LogicalResponse | undefined> {
    const { path, operation } = req;
    if (path === 'mounts') {
      if (operation !== 'read') throw unsupportedOperation();
      return { data: Object.fromEntries(this.mounts.all().map((m) => [m.path, mountInfo(m)])) };
    }
    if (path.startsWith('mounts/')) return this.mount(req, normalizeMountPath(path.slice('mounts/'.length)));

    if (path === 'policy' || path === 'policy/') {
      if (operation !== 'read' && operation !== 'list') throw unsupportedOperation();
      const names = this.policies.names();
      return { data: { keys: names, policies: names } };
    }
    if (path === 'policies/acl' || path === 'policies/acl/') {
      if (operation !== 'list') throw unsupportedOperation();
      return { data: { keys: this.policies.names() } };
    }
    if (path === 'capabilities-self') return this.capabilitiesSelf(req);
    const legacy = path.startsWith('policy/');
    if (legacy || path.startsWith('policies/acl/')) {
      const name = path.slice(legacy ? 'policy/'.length : 'policies/acl/'.length);
      return this.policy(req, name, legacy);
    }
    throw unsupportedPath();
  }

  /** The capabilities of the caller's token on each of `paths` (or the older `path`), and, for one path, as `capabilities`. */
  private capabilitiesSelf(req: LogicalRequest): LogicalResponse {
    if (req.operation !== 'update' && req.operation !== 'create') throw unsupportedOperation();
    const given = listField(req.data, 'paths') ?? [];
    const paths = given.length > 0 ? given : (listField(req.data, 'path') ?? []);
    if (paths.length === 0) throw badRequest('paths must be supplied');
    const acl = this.policies.aclFor(req.token.policies);
    // Keys are the caller's paths: no prototype, so `__proto__` is a path like any other.
    const data = Object.create(null) as Record<string, string[]>;
    for (const path of paths) data[path] = acl.capabilities(path);
    if (paths.length === 1) data['capabilities'] = data[paths[0]!]!;
    return { data };
  }

  private async mount(req: LogicalRequest, mountPath: string): Promise<LogicalResponse | undefined> {
    switch (req.operation) {
      case 'read': {
        const entry = this.mounts.get(mountPath);
        if (!entry) throw badRequest(`No secret engine mount at ${mountPath}`);
        return { data: mountInfo(entry) };
      }
      case 'create':
      case 'update':
        await this.enable(mountPath, req);
        return undefined;
      case 'delete':
        await this.mounts.remove(mountPath);
        return undefined;
      default:
        throw unsupportedOperation();
    }
  }

  private async enable(mountPath: string, req: LogicalRequest): Promise<void> {
    if (mountPath === '/') throw badRequest('path cannot be empty');
    const type = stringField(req.data, 'type') ?? '';
    const options = mapField(req.data, 'options') ?? {};
    const version = options['version'] === undefined ? undefined : String(options['version']);
    if (type === '') throw badRequest('backend type must be specified as a string');
    if (type !== 'kv' && type !== 'kv-v2' && type !== 'kv-v1') {
      throw badRequest(`plugin not found in the catalog: ${type}`);
    }
    const isV2 = type === 'kv-v2' || (type === 'kv' && version === '2');
    if (!isV2) throw badRequest('vault-dev implements only KV version 2: use "options": {"version": "2"}');
    const entry = kvMount(mountPath, stringField(req.data, 'description') ?? '');
    entry.local = boolField(req.data, 'local') ?? false;
    entry.seal_wrap = boolField(req.data, 'seal_wrap') ?? false;
    await this.mounts.add(entry);
  }

  private async policy(req: LogicalRequest, name: string, legacy: boolean): Promise<LogicalResponse | undefined> {
    switch (req.operation) {
      case 'read': {
        const policy = this.policies.get(name);
        if (!policy) return undefined;
        return { data: legacy ? { name: policy.name, rules: policy.raw } : { name: policy.name, policy: policy.raw } };
      }
      case 'create':
      case 'update': {
        if (name === '') throw badRequest('policy name must be provided in the URL');
        const warnings: string[] = [];
        let raw = stringField(req.data, 'policy') ?? '';
        if (raw === '' && legacy) {
          raw = stringField(req.data, 'rules') ?? '';
          if (raw !== '') warnings.push("'rules' is deprecated, please use 'policy' instead");
        }
        if (raw === '') throw badRequest("'policy' parameter not supplied or empty");
        // Vault accepts the policy base64-encoded too.
        raw = decodeIfBase64(raw);
        if (name !== name.toLowerCase()) warnings.push(`policy name was converted to ${name.toLowerCase()}`);
        await this.policies.set(name, raw);
        return warnings.length ? { data: null, warnings } : undefined;
      }
      case 'delete':
        await this.policies.delete(name);
        return undefined;
      default:
        throw unsupportedOperation();
    }
  }
}

/** Vault's sanitizePath for mounts: no leading slash, one trailing slash. */
function normalizeMountPath(path: string): string {
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  return `${trimmed}/`;
}

function decodeIfBase64(text: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return text;
  const decoded = Buffer.from(text, 'base64');
  return decoded.toString('base64') === text ? decoded.toString('utf8') : text;
}
