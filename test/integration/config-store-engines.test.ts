// The ConfigStore conformance suite (test/unit/config-store-conformance.ts) against both engines: SQLite in a temp
// dir, and etcd on a real single-member cluster, each test on a fresh key prefix of its own.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigStore } from '../../src/store/config-store.js';
import { SqliteConfigStore } from '../../src/store/sqlite.js';
import { EtcdConfigStore } from '../../src/store/etcd.js';
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd-cluster.js';
import { describeConfigStoreConformance } from '../unit/config-store-conformance.js';

const handles: ConfigStore[] = [];
const dirs: string[] = [];
let cluster: EtcdCluster | undefined;

before(async () => {
  cluster = await startEtcdCluster({ members: 1 });
});

after(async () => {
  for (const handle of handles) await handle.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await cluster?.stop();
});

const keep = <T extends ConfigStore>(store: T): T => {
  handles.push(store);
  return store;
};

describeConfigStoreConformance('sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-conformance-'));
  dirs.push(dir);
  return { store: keep(new SqliteConfigStore(dir)), another: () => keep(new SqliteConfigStore(dir)) };
});

let prefixes = 0;
describeConfigStoreConformance('etcd', () => {
  if (!cluster) throw new Error('the etcd cluster did not start');
  // One cluster for all tests; a prefix per test keeps each store as empty as a new SQLite file.
  const settings = { endpoints: cluster.endpoints, prefix: `/conformance/${++prefixes}/` };
  return { store: keep(new EtcdConfigStore(settings)), another: () => keep(new EtcdConfigStore(settings)) };
});
