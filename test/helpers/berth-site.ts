// A control tower and its sites for tests and benchmarks: each a real Berth process on loopback with its own data
// directory (and, when asked, its own vault-dev), the site registered at the tower with its token in the tower's
// secret store, and following the tower with a token the tower's admin made for that site alone (role `site`).
// A site keeps its port across restarts, so the tower's `api-url` for it stays right. Everything is on loopback over
// plain HTTP, so tower and sites run with BERTH_SITES_ALLOW_HTTP=true.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api, type ApiResponse } from './api.js';
import { startBerth, type BerthProcess } from './berth.js';
import { freePort } from './free-port.js';
import { registerSecretValue, vaultClient } from './secret-values.js';
import { startVaultDev, type VaultDevInstance } from './vault-dev.js';
import { eventually } from './eventually.js';
import { closeAll } from './close-all.js';

/** The KV v2 mount of the tower's secret store holding the tokens it presents at its sites. */
export const SITE_TOKENS_MOUNT = 'site-tokens';

type Inspect = (method: string, path: string, res: ApiResponse) => void;

export interface RunningTower {
  berth: BerthProcess;
  api: Api;
  vault: VaultDevInstance;
  vaultToken: string;
  /** SIGTERM; `start()` brings it back on the same port and data directory. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the tower and its vault, removes its data. */
  close(): Promise<void>;
}

export interface RunningSite {
  name: string;
  berth: BerthProcess;
  api: Api;
  /** The site's own secret store, when it was started with one. */
  vault?: VaultDevInstance;
  vaultToken?: string;
  url: string;
  /** The token this site presents to the tower: role `site`, bound to this site. */
  towerToken: string;
  stop(): Promise<void>;
  /** Starts the site again on the same port and data directory. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const randomToken = (label: string) => `${label}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

/**
 * A Berth process of a tower or a site: stop() and start() keep its port and data directory (so the tower's `api-url`
 * for a site stays right); close() stops it with whatever else it ran (its vault) and removes its data.
 */
class RestartableBerth {
  private constructor(
    public berth: BerthProcess,
    private readonly port: number,
    private readonly dataDir: string,
    private readonly adminToken: string,
    private readonly env: Record<string, string>,
  ) {}

  static async start(dataDir: string, adminToken: string, env: Record<string, string>): Promise<RestartableBerth> {
    const port = await freePort();
    return new RestartableBerth(await RestartableBerth.run(port, dataDir, adminToken, env), port, dataDir, adminToken, env);
  }

  private static run(port: number, dataDir: string, adminToken: string, env: Record<string, string>): Promise<BerthProcess> {
    return startBerth({ dataDir, adminToken, env: { BERTH_LISTEN: `127.0.0.1:${port}`, BERTH_LOG_LEVEL: 'warn', BERTH_SITES_ALLOW_HTTP: 'true', ...env } });
  }

  async stop(): Promise<void> {
    await this.berth.stop();
  }

  async start(): Promise<void> {
    this.berth = await RestartableBerth.run(this.port, this.dataDir, this.adminToken, this.env);
  }

  async close(alongside: Array<() => Promise<unknown> | undefined>): Promise<void> {
    try {
      await closeAll([() => this.berth.stop(), ...alongside]);
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}

/** Makes the token a site presents to `tower`: role `site`, bound to `site`, as an operator does it. */
export async function createSiteToken(tower: RunningTower, site: string): Promise<string> {
  const created = await tower.api.post('/v1/config/system/tokens', { name: `site-${site}`, role: 'site', site });
  assert.equal(created.status, 201, created.text);
  const token = (created.body as { token: string }).token;
  registerSecretValue(token);
  return token;
}

export interface TowerOptions {
  inspect?: Inspect;
  env?: Record<string, string>;
}

/** A control tower with its own vault-dev (the KV mount for site tokens enabled). */
export async function startTower(options: TowerOptions = {}): Promise<RunningTower> {
  const vaultToken = randomToken('tower-vault-root');
  const vault = await startVaultDev({ rootToken: vaultToken });
  await vaultClient(vault.addr, vaultToken).mount({ mount_point: SITE_TOKENS_MOUNT, type: 'kv', options: { version: '2' } });
  const adminToken = randomToken('tower-admin');
  const env = { VAULT_ADDR: vault.addr, VAULT_TOKEN: vaultToken, ...options.env };
  let running: RestartableBerth;
  try {
    running = await RestartableBerth.start(mkdtempSync(join(tmpdir(), 'berth-tower-')), adminToken, env);
  } catch (e) {
    // A tower that did not start (a stale dist/) leaves no vault-dev behind to hold the test process open.
    await vault.stop();
    throw e;
  }
  return {
    get berth() {
      return running.berth;
    },
    api: new Api(running.berth.url, adminToken, options.inspect),
    vault,
    vaultToken,
    stop: () => running.stop(),
    start: () => running.start(),
    close: () => running.close([() => vault.stop()]),
  };
}

export interface SiteOptions {
  /** Give the site its own vault-dev (VAULT_ADDR at the site). */
  vault?: boolean;
  inspect?: Inspect;
  env?: Record<string, string>;
  /** Register the site at the tower (default true). */
  register?: boolean;
}

/**
 * A site following `tower` with a `site` token of its own, registered there as `name` with its admin token in the
 * tower's secret store.
 */
export async function startSite(tower: RunningTower, name: string, options: SiteOptions = {}): Promise<RunningSite> {
  let vault: VaultDevInstance | undefined;
  let vaultToken: string | undefined;
  if (options.vault) {
    vaultToken = randomToken(`${name}-vault-root`);
    vault = await startVaultDev({ rootToken: vaultToken });
  }
  const adminToken = randomToken(`${name}-admin`);
  registerSecretValue(adminToken);
  const towerToken = await createSiteToken(tower, name);
  const env = {
    BERTH_SITE_NAME: name,
    BERTH_TOWER_URL: tower.berth.url,
    BERTH_TOWER_TOKEN: towerToken,
    ...(vault && vaultToken ? { VAULT_ADDR: vault.addr, VAULT_TOKEN: vaultToken } : {}),
    ...options.env,
  };
  let running: RestartableBerth;
  try {
    running = await RestartableBerth.start(mkdtempSync(join(tmpdir(), `berth-site-${name}-`)), adminToken, env);
  } catch (e) {
    await vault?.stop();
    throw e;
  }
  const url = running.berth.url;
  if (options.register ?? true) {
    await vaultClient(tower.vault.addr, tower.vaultToken).write(`${SITE_TOKENS_MOUNT}/data/${name}`, { data: { token: adminToken } });
    const registered = await tower.api.put(`/v1/config/sites/${name}`, { name, 'api-url': url, vault: SITE_TOKENS_MOUNT, secret: name });
    assert.equal(registered.status, 201, registered.text);
  }
  return {
    name,
    get berth() {
      return running.berth;
    },
    api: new Api(url, adminToken, options.inspect),
    ...(vault ? { vault } : {}),
    ...(vaultToken ? { vaultToken } : {}),
    url,
    towerToken,
    stop: () => running.stop(),
    start: () => running.start(),
    close: () => running.close([() => vault?.stop()]),
  };
}

export interface ReplicationState {
  'site-name': string;
  role: 'control-tower' | 'site';
  connected: boolean;
  'replicated-revision'?: number;
  'tower-revision'?: number;
  lag?: number;
  'last-error'?: string;
}

export async function replicationState(api: Api): Promise<ReplicationState> {
  const res = await api.get('/v1/state/system/replication');
  assert.equal(res.status, 200, res.text);
  return res.body as ReplicationState;
}

/** Waits until `site` has applied exactly the tower's current revision, and returns that revision. */
export async function converged(tower: RunningTower, site: { api: Api; name: string }, limitMs?: number): Promise<number> {
  return eventually(
    `site ${site.name} converging to the tower's revision`,
    async () => {
      const towerRevision = (await replicationState(tower.api))['replicated-revision'];
      const siteRevision = (await replicationState(site.api))['replicated-revision'];
      return towerRevision !== undefined && siteRevision === towerRevision ? siteRevision : undefined;
    },
    limitMs,
  );
}
