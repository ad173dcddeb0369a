// Platforms (`os/architecture[/variant]`): how an index entry or an image config names one, how it is written, and
// which index entries are not runnable images at all (BuildKit's attestations).
import type { Descriptor, Platform } from './manifest.js';
import { ManifestFormatError } from './manifest.js';

export const UNKNOWN_PLATFORM = 'unknown/unknown';

/** `os/arch[/variant]`, or `unknown/unknown` when the platform is missing (as on Docker's attestation manifests). */
export function formatPlatform(platform: Platform | undefined): string {
  if (!platform || !platform.os || !platform.architecture) return UNKNOWN_PLATFORM;
  return [platform.os, platform.architecture, platform.variant].filter((part) => part).join('/');
}

export const ATTESTATION_REFERENCE_TYPE = 'attestation-manifest';

/** Whether an index entry is a BuildKit attestation (provenance/SBOM) rather than a runnable image. */
export const isAttestationManifest = (descriptor: Descriptor): boolean =>
  descriptor.annotations?.['vnd.docker.reference.type'] === ATTESTATION_REFERENCE_TYPE;

const stringField = (value: Record<string, unknown>, name: string): string | undefined =>
  typeof value[name] === 'string' && value[name] !== '' ? (value[name] as string) : undefined;

/**
 * The platform an image config's JSON names; undefined when it names none (artifacts, odd configs). Bytes that are
 * not JSON are a ManifestFormatError: each side decides what that means for it.
 */
export function platformOfConfig(bytes: Uint8Array): Platform | undefined {
  let config: unknown;
  try {
    config = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new ManifestFormatError('image config is not valid JSON');
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return undefined;
  const fields = config as Record<string, unknown>;
  const os = stringField(fields, 'os');
  const architecture = stringField(fields, 'architecture');
  if (!os || !architecture) return undefined;
  const variant = stringField(fields, 'variant');
  return { os, architecture, ...(variant ? { variant } : {}) };
}
