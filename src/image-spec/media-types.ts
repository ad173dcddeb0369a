// The media types of the OCI image spec and their Docker v2 schema 2 equivalents: which documents are manifests
// (and of which shape), which configs carry a platform, which layers registries never hold.

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

/** Every manifest type a client asks for and understands, in the order it prefers them. */
export const ACCEPTED_MANIFEST_TYPES: readonly string[] = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
];

/** Manifest media types by the shape of document they name. */
export const imageManifestTypes: ReadonlySet<string> = new Set([MediaTypes.ociManifest, MediaTypes.dockerManifest]);
export const indexManifestTypes: ReadonlySet<string> = new Set([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);

export const isIndexMediaType = (mediaType: string): boolean => indexManifestTypes.has(mediaType);
export const isImageManifestMediaType = (mediaType: string): boolean => imageManifestTypes.has(mediaType);
export const isManifestMediaType = (mediaType: string): boolean => isIndexMediaType(mediaType) || isImageManifestMediaType(mediaType);

/** Configs whose JSON has `os`/`architecture`/`variant`, so the platform of an image can be read from them. */
export const platformConfigTypes: ReadonlySet<string> = new Set([MediaTypes.ociConfig, MediaTypes.dockerConfig]);

/** Layers that registries do not hold (their `urls` point elsewhere), so a manifest may reference them absent. */
export const isForeignLayer = (mediaType: string): boolean =>
  mediaType === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' ||
  mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.');

/** `type/subtype` without parameters, lower-cased; undefined for a missing or blank header. */
export function essenceOf(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return essence === '' ? undefined : essence;
}
