// A manifest as the site registry takes it: the image spec's parse with the pushed Content-Type held to the
// document, and whatever does not parse answered as MANIFEST_INVALID.
import { ManifestFormatError, parseManifest, type ManifestDocument } from '../image-spec/index.js';
import { RegistryError } from './registry-error.js';

/**
 * Parses manifest bytes or throws MANIFEST_INVALID. `contentType` is the request's media type. `maxEntries` bounds
 * the entries of an index and the layers of an image (BERTH_MAX_MANIFEST_ENTRIES).
 */
export function parseManifestDocument(bytes: Uint8Array, contentType: string | undefined, maxEntries?: number): ManifestDocument {
  try {
    return parseManifest(bytes, contentType, { served: 'pushed', ...(maxEntries !== undefined ? { maxEntries } : {}) });
  } catch (error) {
    if (error instanceof ManifestFormatError) throw new RegistryError('MANIFEST_INVALID', error.message, error.detail);
    throw error;
  }
}
