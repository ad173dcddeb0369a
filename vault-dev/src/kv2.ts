// The KV secrets engine, version 2, for one mount: versioned secrets under data/, soft delete,
// undelete and destroy of versions, key metadata, check-and-set, listing, engine config.
// Behaviour and messages follow hashicorp/vault-plugin-secrets-kv.

import type { Barrier } from './barrier.js';
import { formatGoDuration, formatTimestamp } from './duration.js';
import { boolField, durationField, intField, intListField, mapField, stringMapField } from './fields.js';
import type { JsonObject, LogicalBackend, LogicalRequest, LogicalResponse } from './logical.js';
import { dataPrefix, type MountEntry } from './mounts.js';
import {
  checkAndSet,
  effectiveDeleteAfter,
  maxVersionsField,
  newMetadata,
  validateCustomMetadata,
  versionInfo,
  versionOf,
  type EngineConfig,
  type KeyMetadata,
  type VersionMetadata,
} from './kv2-metadata.js';
import { badRequest, notFound, unsupportedOperation, unsupportedPath } from './vault-error.js';

const DEFAULT_MAX_VERSIONS = 10;

interface StoredVersion {
  data: JsonObject;
}

export class Kv2Backend implements LogicalBackend {
  readonly mountType = 'kv';
  private readonly prefix: string;

  constructor(
    private readonly barrier: Barrier,
    mount: MountEntry,
  ) {
    this.prefix = dataPrefix(mount);
  }

  exists(path: string): boolean | undefined {
    const key = keyOf(path, 'data/') ?? keyOf(path, 'metadata/');
    return key === undefined ? undefined : this.metadata(key) !== undefined;
  }

  async handle(req: LogicalRequest): Promise<LogicalResponse | undefined> {
    const { path, operation } = req;
    if (path === 'config') return this.config(req);

    const dataKey = keyOf(path, 'data/');
    if (dataKey !== undefined) {
      // data/ only matches paths that do not end in "/" (so a LIST there is an unsupported path).
      if (dataKey === '' || dataKey.endsWith('/')) throw unsupportedPath();
      switch (operation) {
        case 'read':
          return this.readData(dataKey, req.data);
        case 'create':
        case 'update':
          return this.writeData(dataKey, req.data);
        case 'patch':
          return this.patchData(dataKey, req.data);
        case 'delete':
          return this.deleteLatest(dataKey);
        default:
          throw unsupportedOperation();
      }
    }

    const metadataKey = keyOf(path, 'metadata/');
    if (metadataKey !== undefined) {
      switch (operation) {
        case 'list':
          return this.listKeys(metadataKey);
        case 'read':
          return this.readMetadata(metadataKey);
        case 'create':
        case 'update':
          return this.writeMetadata(metadataKey, req.data);
        case 'delete':
          return this.deleteMetadata(metadataKey);
        default:
          throw unsupportedOperation();
      }
    }

    for (const action of ['delete', 'undelete', 'destroy'] as const) {
      const key = keyOf(path, `${action}/`);
      if (key === undefined) continue;
      if (operation !== 'update' && operation !== 'create') throw unsupportedOperation();
      return this.changeVersions(action, key, req.data);
    }
    throw unsupportedPath();
  }

  // ---- data/ ----

  private readData(key: string, query: JsonObject): LogicalResponse | undefined {
    const meta = this.metadata(key);
    if (!meta) return undefined;
    const requested = intField(query, 'version') ?? 0;
    const version = requested > 0 ? requested : meta.current_version;
    const vm = versionOf(meta, version);
    if (!vm) return undefined;
    const metadata = versionInfo(version, vm, meta);
    // A deleted or destroyed version: Vault answers 404 but still sends the version's metadata.
    if ((vm.deletion_time !== null && vm.deletion_time <= Date.now()) || vm.destroyed) {
      return { status: 404, data: { data: null, metadata } };
    }
    const stored = this.barrier.get<StoredVersion>(this.versionKey(key, version));
    if (!stored) throw new Error('could not find version data');
    return { data: { data: stored.data, metadata } };
  }

  private async writeData(key: string, body: JsonObject): Promise<LogicalResponse> {
    const data = mapField(body, 'data');
    if (data === undefined) throw badRequest('no data provided');
    const config = this.engineConfig();
    const meta = this.metadata(key) ?? newMetadata(Date.now());
    checkAndSet(body, config, meta);
    return this.addVersion(key, meta, config, data);
  }

  /** JSON merge patch (RFC 7386) of the current version into a new version. */
  private async patchData(key: string, body: JsonObject): Promise<LogicalResponse> {
    const patch = mapField(body, 'data');
    if (patch === undefined) throw badRequest('no data provided');
    const meta = this.metadata(key);
    if (!meta) throw notFound();
    const config = this.engineConfig();
    checkAndSet(body, config, meta);
    const current = versionOf(meta, meta.current_version);
    if (!current || current.destroyed || (current.deletion_time !== null && current.deletion_time <= Date.now())) {
      throw notFound();
    }
    const stored = this.barrier.get<StoredVersion>(this.versionKey(key, meta.current_version));
    if (!stored) throw new Error('could not find version data');
    return this.addVersion(key, meta, config, mergePatch(stored.data, patch) as JsonObject);
  }

  private async addVersion(
    key: string,
    meta: KeyMetadata,
    config: EngineConfig,
    data: JsonObject,
  ): Promise<LogicalResponse> {
    const now = Date.now();
    const version = meta.current_version + 1;
    const deleteAfter = effectiveDeleteAfter(config, meta);
    const vm: VersionMetadata = {
      created_time: now,
      deletion_time: deleteAfter > 0 ? now + deleteAfter * 1000 : null,
      destroyed: false,
    };
    // The version is written before the metadata that points at it, so a crash in between
    // leaves an unreferenced version rather than a dangling reference.
    await this.barrier.put(this.versionKey(key, version), { data } satisfies StoredVersion);

    meta.current_version = version;
    meta.versions[String(version)] = vm;
    meta.updated_time = now;
    const maxVersions = Math.max(meta.max_versions, config.max_versions) || DEFAULT_MAX_VERSIONS;
    const expired: number[] = [];
    if (meta.current_version - meta.oldest_version >= maxVersions) {
      const lastToDelete = meta.current_version - maxVersions;
      for (let v = meta.oldest_version; v <= lastToDelete; v++) {
        delete meta.versions[String(v)];
        expired.push(v);
      }
      meta.oldest_version = lastToDelete + 1;
    }
    await this.putMetadata(key, meta);
    for (const v of expired) await this.barrier.delete(this.versionKey(key, v));
    return { data: versionInfo(version, vm, meta) };
  }

  private async deleteLatest(key: string): Promise<undefined> {
    const meta = this.metadata(key);
    const latest = meta && versionOf(meta, meta.current_version);
    if (!meta || !latest || latest.destroyed) return undefined;
    if (latest.deletion_time !== null && latest.deletion_time <= Date.now()) return undefined;
    latest.deletion_time = Date.now();
    await this.putMetadata(key, meta);
    return undefined;
  }

  // ---- delete/, undelete/, destroy/ ----

  private async changeVersions(
    action: 'delete' | 'undelete' | 'destroy',
    key: string,
    body: JsonObject,
  ): Promise<undefined> {
    const versions = intListField(body, 'versions');
    if (versions.length === 0) {
      throw badRequest(action === 'destroy' ? 'no version number provided' : 'No version number provided');
    }
    const meta = this.metadata(key);
    if (!meta) return undefined;
    const now = Date.now();
    const config = this.engineConfig();
    const changed = new Set<number>();
    for (const v of versions) {
      const vm = versionOf(meta, v);
      if (!vm || vm.destroyed) continue;
      changed.add(v);
      if (action === 'delete') {
        if (vm.deletion_time === null || vm.deletion_time > now) vm.deletion_time = now;
      } else if (action === 'undelete') {
        const deleteAfter = effectiveDeleteAfter(config, meta);
        vm.deletion_time = deleteAfter > 0 ? now + deleteAfter * 1000 : null;
      } else {
        vm.destroyed = true;
      }
    }
    if (changed.size === 0) return undefined;
    await this.putMetadata(key, meta);
    if (action === 'destroy') {
      for (const v of changed) await this.barrier.delete(this.versionKey(key, v));
    }
    return undefined;
  }

  // ---- metadata/ ----

  private listKeys(prefix: string): LogicalResponse | undefined {
    const keys = this.barrier.list(`${this.prefix}metadata/${prefix}`);
    return keys.length === 0 ? undefined : { data: { keys } };
  }

  private readMetadata(key: string): LogicalResponse | undefined {
    const meta = this.metadata(key);
    if (!meta) return undefined;
    const versions: JsonObject = {};
    for (const [v, vm] of Object.entries(meta.versions)) {
      versions[v] = {
        created_time: formatTimestamp(vm.created_time),
        deletion_time: vm.deletion_time === null ? '' : formatTimestamp(vm.deletion_time),
        destroyed: vm.destroyed,
      };
    }
    return {
      data: {
        cas_required: meta.cas_required,
        created_time: formatTimestamp(meta.created_time),
        current_version: meta.current_version,
        custom_metadata: meta.custom_metadata,
        delete_version_after: formatGoDuration(meta.delete_version_after),
        max_versions: meta.max_versions,
        oldest_version: meta.oldest_version,
        updated_time: formatTimestamp(meta.updated_time),
        versions,
      },
    };
  }

  private async writeMetadata(key: string, body: JsonObject): Promise<LogicalResponse | undefined> {
    if (key === '') throw badRequest('missing path');
    const maxVersions = maxVersionsField(body);
    const casRequired = boolField(body, 'cas_required');
    const deleteAfter = durationField(body, 'delete_version_after');
    const customMetadata = stringMapField(body, 'custom_metadata');
    if (maxVersions === undefined && casRequired === undefined && deleteAfter === undefined && !customMetadata) {
      return undefined;
    }
    if (customMetadata) validateCustomMetadata(customMetadata);
    const config = this.engineConfig();
    const meta = this.metadata(key) ?? newMetadata(Date.now());
    if (maxVersions !== undefined) meta.max_versions = maxVersions;
    if (casRequired !== undefined) meta.cas_required = casRequired;
    if (deleteAfter !== undefined) meta.delete_version_after = deleteAfter;
    if (customMetadata) meta.custom_metadata = customMetadata;
    await this.putMetadata(key, meta);
    if (casRequired === false && config.cas_required) {
      return {
        data: null,
        warnings: ['"cas_required" set to false, but is mandated by backend config. This value will be ignored.'],
      };
    }
    return undefined;
  }

  private async deleteMetadata(key: string): Promise<undefined> {
    const meta = this.metadata(key);
    if (!meta) return undefined;
    for (const v of Object.keys(meta.versions)) await this.barrier.delete(this.versionKey(key, Number(v)));
    await this.barrier.delete(this.metadataKey(key));
    return undefined;
  }

  // ---- config ----

  private async config(req: LogicalRequest): Promise<LogicalResponse | undefined> {
    const config = this.engineConfig();
    if (req.operation === 'read') {
      return {
        data: {
          cas_required: config.cas_required,
          delete_version_after: formatGoDuration(config.delete_version_after),
          max_versions: config.max_versions,
        },
      };
    }
    if (req.operation !== 'update' && req.operation !== 'create') throw unsupportedOperation();
    const maxVersions = maxVersionsField(req.data);
    const casRequired = boolField(req.data, 'cas_required');
    const deleteAfter = durationField(req.data, 'delete_version_after');
    if (maxVersions !== undefined) config.max_versions = maxVersions;
    if (casRequired !== undefined) config.cas_required = casRequired;
    if (deleteAfter !== undefined) config.delete_version_after = deleteAfter;
    await this.barrier.put(`${this.prefix}config`, config);
    return undefined;
  }

  // ---- storage ----

  private engineConfig(): EngineConfig {
    return (
      this.barrier.get<EngineConfig>(`${this.prefix}config`) ?? {
        max_versions: 0,
        cas_required: false,
        delete_version_after: 0,
      }
    );
  }

  private metadata(key: string): KeyMetadata | undefined {
    return this.barrier.get<KeyMetadata>(this.metadataKey(key));
  }

  private async putMetadata(key: string, meta: KeyMetadata): Promise<void> {
    await this.barrier.put(this.metadataKey(key), meta);
  }

  private metadataKey(key: string): string {
    return `${this.prefix}metadata/${key}`;
  }

  private versionKey(key: string, version: number): string {
    return `${this.prefix}versions/${key}/${version}`;
  }
}

function keyOf(path: string, prefix: string): string | undefined {
  return path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
}

/**
 * RFC 7386 merge patch. Keys are the client's: the result has no prototype, so a key named
 * `__proto__` is merged as data instead of replacing the object's prototype.
 */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const base = Object.create(null) as JsonObject;
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) Object.assign(base, target);
  for (const [key, value] of Object.entries(patch as JsonObject)) {
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base;
}
