// Key metadata of the KV version 2 engine: what is kept per key and per version, and the rules read from it
// (check-and-set, max_versions, delete_version_after, custom metadata). Behaviour and messages follow
// hashicorp/vault-plugin-secrets-kv; kv2.ts serves the engine's paths with them.

import { formatTimestamp } from './duration.js';
import { intField, mapField } from './fields.js';
import type { JsonObject } from './logical.js';
import { badRequest } from './vault-error.js';

export interface VersionMetadata {
  created_time: number;
  deletion_time: number | null;
  destroyed: boolean;
}

export interface KeyMetadata {
  current_version: number;
  oldest_version: number;
  created_time: number;
  updated_time: number;
  max_versions: number;
  cas_required: boolean;
  delete_version_after: number;
  custom_metadata: Record<string, string> | null;
  versions: Record<string, VersionMetadata>;
}

export interface EngineConfig {
  max_versions: number;
  cas_required: boolean;
  delete_version_after: number;
}

/** A version's metadata; only the key's own versions count (`versions` came from JSON). */
export function versionOf(meta: KeyMetadata, version: number): VersionMetadata | undefined {
  const name = String(version);
  return Object.hasOwn(meta.versions, name) ? meta.versions[name] : undefined;
}

/** The plugin keeps max_versions in a uint32: anything outside is refused rather than wrapped around. */
export function maxVersionsField(data: JsonObject): number | undefined {
  const value = intField(data, 'max_versions');
  if (value !== undefined && (value < 0 || value > 0xffff_ffff)) {
    throw badRequest('error converting input for field "max_versions"');
  }
  return value;
}

export function newMetadata(now: number): KeyMetadata {
  return {
    current_version: 0,
    oldest_version: 0,
    created_time: now,
    updated_time: now,
    max_versions: 0,
    cas_required: false,
    delete_version_after: 0,
    custom_metadata: null,
    versions: {},
  };
}

/** options.cas: required when the engine or key says so; must equal the current version. */
export function checkAndSet(body: JsonObject, config: EngineConfig, meta: KeyMetadata): void {
  const options = mapField(body, 'options');
  if (options && options['cas'] !== undefined) {
    const cas = options['cas'];
    const parsed = typeof cas === 'number' ? cas : typeof cas === 'string' && /^\d+$/.test(cas) ? Number(cas) : NaN;
    if (!Number.isInteger(parsed)) throw badRequest('error parsing check-and-set parameter');
    if (parsed !== meta.current_version) throw badRequest('check-and-set parameter did not match the current version');
  } else if (config.cas_required || meta.cas_required) {
    throw badRequest('check-and-set parameter required for this call');
  }
}

export function effectiveDeleteAfter(config: EngineConfig, meta: KeyMetadata): number {
  // The shorter non-zero setting wins, as in the plugin's deletionTime().
  const candidates = [config.delete_version_after, meta.delete_version_after].filter((s) => s > 0);
  return candidates.length ? Math.min(...candidates) : 0;
}

export function versionInfo(version: number, vm: VersionMetadata, meta: KeyMetadata): JsonObject {
  return {
    created_time: formatTimestamp(vm.created_time),
    custom_metadata: meta.custom_metadata,
    deletion_time: vm.deletion_time === null ? '' : formatTimestamp(vm.deletion_time),
    destroyed: vm.destroyed,
    version,
  };
}

export function validateCustomMetadata(custom: Record<string, string>): void {
  const prefix = 'custom_metadata validation failed';
  const keys = Object.keys(custom);
  if (keys.length > 64) throw badRequest(`${prefix}: payload must contain at most 64 keys, provided ${keys.length}`);
  for (const [k, v] of Object.entries(custom)) {
    if (k.length === 0 || k.length > 128) {
      throw badRequest(`${prefix}: length of key "${k}" is ${k.length} but must be 0 < len(key) <= 128`);
    }
    if (v.length === 0 || v.length > 512) {
      throw badRequest(`${prefix}: length of value for key "${k}" is ${v.length} but must be 0 < len(value) <= 512`);
    }
  }
}
