// The mount table: which secrets engine answers under which path. vault-dev mounts KV version 2
// engines (`secret/` from the start); `sys/` is built in. Stored behind the barrier.

import type { Barrier } from './barrier.js';
import { newUuid, randomBase62 } from './ids.js';
import { VaultError } from './vault-error.js';

const TABLE_KEY = 'core/mounts';

export interface MountEntry {
  path: string;
  type: string;
  description: string;
  uuid: string;
  accessor: string;
  options: Record<string, string> | null;
  local: boolean;
  seal_wrap: boolean;
  external_entropy_access: boolean;
  config: { default_lease_ttl: number; max_lease_ttl: number; force_no_cache: boolean };
}

/** Version reported for the built-in plugins, as Vault reports `running_plugin_version`. */
const BUILTIN_KV_VERSION = 'v0.20.0+builtin';

const SYSTEM_MOUNT: MountEntry = {
  path: 'sys/',
  type: 'system',
  description: 'system endpoints used for control, policy and debugging',
  uuid: '00000000-0000-0000-0000-000000000000',
  accessor: 'system_00000000',
  options: null,
  local: false,
  seal_wrap: true,
  external_entropy_access: false,
  config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
};

/** Paths no secrets engine may be mounted at or under. */
const RESERVED = ['sys/', 'auth/', 'cubbyhole/', 'identity/'];

export class MountTable {
  constructor(private readonly barrier: Barrier) {}

  /** The `secret/` KV v2 mount every vault-dev starts with. */
  async bootstrap(): Promise<void> {
    await this.barrier.put(TABLE_KEY, [kvMount('secret/', 'key/value secret storage')]);
  }

  all(): MountEntry[] {
    return [SYSTEM_MOUNT, ...this.stored()];
  }

  /** The mount serving `path` (longest matching prefix), if any. */
  find(path: string): MountEntry | undefined {
    let best: MountEntry | undefined;
    for (const mount of this.all()) {
      if (path.startsWith(mount.path) && (!best || mount.path.length > best.path.length)) best = mount;
    }
    return best;
  }

  get(mountPath: string): MountEntry | undefined {
    return this.all().find((m) => m.path === mountPath);
  }

  async add(entry: MountEntry): Promise<void> {
    if (RESERVED.some((r) => entry.path.startsWith(r))) {
      throw new VaultError(400, [`cannot mount under reserved path "${entry.path}"`]);
    }
    for (const existing of this.all()) {
      if (existing.path.startsWith(entry.path) || entry.path.startsWith(existing.path)) {
        throw new VaultError(409, [`path is already in use at ${existing.path}`]);
      }
    }
    await this.barrier.put(TABLE_KEY, [...this.stored(), entry]);
  }

  /** Unmounts and destroys the engine's data; unmounting nothing is not an error, as in Vault. */
  async remove(mountPath: string): Promise<void> {
    if (mountPath === SYSTEM_MOUNT.path) throw new VaultError(400, [`cannot unmount "${mountPath}"`]);
    const entry = this.stored().find((m) => m.path === mountPath);
    if (!entry) return;
    await this.barrier.put(
      TABLE_KEY,
      this.stored().filter((m) => m.path !== mountPath),
    );
    for (const key of this.barrier.keysUnder(dataPrefix(entry))) await this.barrier.delete(key);
  }

  private stored(): MountEntry[] {
    return this.barrier.get<MountEntry[]>(TABLE_KEY) ?? [];
  }
}

export function kvMount(path: string, description: string): MountEntry {
  return {
    path,
    type: 'kv',
    description,
    uuid: newUuid(),
    accessor: `kv_${randomBase62(8).toLowerCase()}`,
    options: { version: '2' },
    local: false,
    seal_wrap: false,
    external_entropy_access: false,
    config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false },
  };
}

/** Where a mount's data lives in the barrier. */
export const dataPrefix = (mount: MountEntry) => `logical/${mount.uuid}/`;

/** The mount's description as sys/mounts lists it. */
export function mountInfo(mount: MountEntry): Record<string, unknown> {
  return {
    accessor: mount.accessor,
    config: mount.config,
    description: mount.description,
    external_entropy_access: mount.external_entropy_access,
    local: mount.local,
    options: mount.options,
    plugin_version: '',
    running_plugin_version: mount.type === 'kv' ? BUILTIN_KV_VERSION : '',
    running_sha256: '',
    seal_wrap: mount.seal_wrap,
    type: mount.type,
    uuid: mount.uuid,
  };
}
