// Opens the ConfigStore engine the settings choose (BERTH_STORE): the embedded SQLite file in the data directory,
// or an etcd cluster that several Berth processes share. Nothing outside this file needs to know which one it got.
// Each engine is imported when chosen: the etcd client (etcd3, gRPC, protobufjs) is most of a start-up otherwise.
import type { Logger } from 'pino';
import type { StoreSettings } from '../settings.js';
import type { ConfigStore } from './config-store.js';
import { measuredStore } from './store-metrics.js';

export interface OpenStoreOptions {
  store: StoreSettings;
  dataDir: string;
  logger?: Logger;
}

export async function openConfigStore({ store, dataDir, logger }: OpenStoreOptions): Promise<ConfigStore> {
  switch (store.engine) {
    case 'sqlite': {
      const { SqliteConfigStore } = await import('./sqlite.js');
      return measuredStore(new SqliteConfigStore(dataDir), 'sqlite');
    }
    case 'etcd': {
      const { EtcdConfigStore } = await import('./etcd.js');
      const etcd = new EtcdConfigStore(store.etcd, logger ? { logger } : {});
      // Fail the start-up with one clear line rather than serving 503s: a first read proves endpoints, TLS and auth.
      try {
        await etcd.revision();
      } catch (error) {
        await etcd.close();
        throw error;
      }
      return measuredStore(etcd, 'etcd');
    }
  }
}
