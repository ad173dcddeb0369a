// The media types the site registry recognises: which manifests it stores, which configs carry a platform,
// and which layers are never pushed (foreign/non-distributable) and so are not required to be present.

export const ociImageManifest = 'application/vnd.oci.image.manifest.v1+json';
export const ociImageIndex = 'application/vnd.oci.image.index.v1+json';
export const dockerManifestV2 = 'application/vnd.docker.distribution.manifest.v2+json';
export const dockerManifestList = 'application/vnd.docker.distribution.manifest.list.v2+json';

export const ociImageConfig = 'application/vnd.oci.image.config.v1+json';
export const dockerImageConfig = 'application/vnd.docker.container.image.v1+json';

/** Manifest media types a client may PUT, by the shape of document they name. */
export const imageManifestTypes: ReadonlySet<string> = new Set([ociImageManifest, dockerManifestV2]);
export const indexManifestTypes: ReadonlySet<string> = new Set([ociImageIndex, dockerManifestList]);

export const isManifestMediaType = (mediaType: string): boolean =>
  imageManifestTypes.has(mediaType) || indexManifestTypes.has(mediaType);

/** Configs whose JSON has `os`/`architecture`/`variant`, so the platform of an image can be read from them. */
export const platformConfigTypes: ReadonlySet<string> = new Set([ociImageConfig, dockerImageConfig]);

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
