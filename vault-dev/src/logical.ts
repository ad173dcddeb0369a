// Vault's "logical" request model: every API path below /v1 (except a few sys endpoints) is an
// operation on a path, routed to a backend (sys, auth/token, a KV mount). Nothing here knows HTTP.

import type { TokenEntry } from './tokens.js';

export type Operation = 'read' | 'list' | 'create' | 'update' | 'delete' | 'patch';

export type JsonObject = { [key: string]: unknown };

export interface LogicalRequest {
  operation: Operation;
  /** Path relative to the backend's mount, e.g. `data/app/db` for `secret/data/app/db`. */
  path: string;
  /** Query parameters (GET, DELETE, LIST) or the JSON body (POST, PUT, PATCH). */
  data: JsonObject;
  /** The authenticated token; the raw token string is `clientToken`. */
  token: TokenEntry;
  clientToken: string;
  /** Whether the token's policies grant `sudo` on this path (root always does). */
  sudoAllowed: boolean;
}

export interface AuthBlock {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  entity_id: string;
  token_type: string;
  orphan: boolean;
  mfa_requirement: null;
  num_uses: number;
}

export interface LogicalResponse {
  data?: JsonObject | null;
  warnings?: string[];
  auth?: AuthBlock;
  /** Vault's RespondWithStatusCode: the whole envelope is sent with this status (KV v2 deleted reads). */
  status?: number;
}

export interface LogicalBackend {
  /** Value of the `mount_type` envelope field. */
  readonly mountType: string;
  /** Vault's existence check: decides between the `create` and `update` capability for writes. */
  exists?(path: string): boolean | undefined;
  /** `undefined` means "no response": 404 for reads and lists, 204 for writes. */
  handle(req: LogicalRequest): Promise<LogicalResponse | undefined>;
}
