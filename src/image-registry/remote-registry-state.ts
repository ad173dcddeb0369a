// The state of a remote registry: its applied configuration plus non-config (operational) leaves.
// `content=config|nonconfig|all` picks which of the two a reader gets; the key is always kept.
import type { ConfigList, Versioned } from '../config/config-list.js';
import type { ContentFilter } from '../http/query-options.js';
import type { RemoteRegistry } from './remote-registry.js';

export interface RemoteRegistryNonConfig {
  /** Store revision of the last change to this registry's configuration. */
  revision: number;
  /** When that change happened. */
  'last-change': string;
}

export type RemoteRegistryState = RemoteRegistry & RemoteRegistryNonConfig;

const CONFIG_FIELDS = ['address', 'override-address', 'ca-cert', 'credentials'] as const;

function toState({ value, revision, updatedAt }: Versioned<RemoteRegistry>): RemoteRegistryState {
  return { ...value, revision, 'last-change': updatedAt };
}

export function filterContent(state: RemoteRegistryState, content: ContentFilter): Partial<RemoteRegistryState> {
  if (content === 'all') return state;
  const isConfig = (field: string) => (CONFIG_FIELDS as readonly string[]).includes(field);
  return Object.fromEntries(
    Object.entries(state).filter(([field]) => field === 'address' || (content === 'config') === isConfig(field)),
  ) as Partial<RemoteRegistryState>;
}

export class RemoteRegistryStates {
  constructor(private readonly registries: ConfigList<RemoteRegistry>) {}

  async list(): Promise<RemoteRegistryState[]> {
    return (await this.registries.list()).map(toState);
  }

  async get(address: string): Promise<RemoteRegistryState> {
    return toState(await this.registries.get(address));
  }
}
