// The state of a remote registry: its applied configuration plus non-config (operational) leaves.
// `content=config|nonconfig|all` picks which of the two a reader gets (http/state-routes.ts).
import type { ConfigList, Versioned } from '../config/config-list.js';
import type { RemoteRegistry } from './remote-registry.js';
import type { LastVerification, VerificationLog } from './verification-status.js';
import type { ChangeAuthor, WriteContext } from '../store/config-store.js';
import type { PullThroughLog, PullThroughState } from './mirror/pull-through-log.js';

/** The contract's ChangeAuthor: the recorded author and the request id of the write. */
export type ChangeAuthorAnswer = ChangeAuthor & { 'request-id'?: string };

const authorAnswer = ({ author, requestId }: WriteContext): ChangeAuthorAnswer => ({ ...author, ...(requestId ? { 'request-id': requestId } : {}) });

export interface RemoteRegistryNonConfig {
  /** Store revision of the last change to this registry's configuration. */
  revision: number;
  /** When that change happened. */
  'last-change': string;
  /** Who made it, when that was recorded. */
  'last-change-by'?: ChangeAuthorAnswer;
  /** The outcome of the last verify-credentials, when there was one since Berth started. */
  'last-verification'?: LastVerification;
  /** What pull-through met since Berth started, when it served anything of this registry. */
  'pull-through'?: PullThroughState;
}

export type RemoteRegistryState = RemoteRegistry & RemoteRegistryNonConfig;

export class RemoteRegistryStates {
  constructor(
    private readonly registries: ConfigList<RemoteRegistry>,
    private readonly verifications: VerificationLog,
    private readonly pullThrough: PullThroughLog,
  ) {}

  private toState({ value, revision, updatedAt, writeContext }: Versioned<RemoteRegistry>): RemoteRegistryState {
    const verification = this.verifications.get(value.address);
    const pullThrough = this.pullThrough.get(value.address);
    return {
      ...value,
      revision,
      'last-change': updatedAt,
      ...(writeContext ? { 'last-change-by': authorAnswer(writeContext) } : {}),
      ...(verification ? { 'last-verification': verification } : {}),
      ...(pullThrough ? { 'pull-through': pullThrough } : {}),
    };
  }

  async list(): Promise<RemoteRegistryState[]> {
    return (await this.registries.list()).map((entry) => this.toState(entry));
  }

  async get(address: string): Promise<RemoteRegistryState> {
    return this.toState(await this.registries.get(address));
  }
}
