// What may not be deleted from the site registry: an image a desired image of this site keeps (its tag, or its
// digest), and a manifest an image index of the repository still lists. Deleting either is refused with 409.
import { RegistryError } from './registry-error.js';
import type { RegistryIndex } from './storage/registry-index.js';

/**
 * An image that must not be deleted while its owner wants it (a desired image of this site): its tag, or its digest
 * when it has none. Deleting it is refused (409); garbage collection never takes what a manifest references.
 */
export interface RetainedImage {
  repository: string;
  tag?: string;
  digest?: string;
  /** Who wants it, for the refusal's message (e.g. `site-images 'kettle'`). */
  by: string;
}

export class KeptImages {
  /** Retained images by repository (retain()). */
  private retained = new Map<string, RetainedImage[]>();

  constructor(private readonly index: RegistryIndex) {}

  /** The images that must not be deleted, replacing those given before (one owner: the desired images of this site). */
  retain(images: readonly RetainedImage[]): void {
    const retained = new Map<string, RetainedImage[]>();
    for (const image of images) retained.set(image.repository, [...(retained.get(image.repository) ?? []), image]);
    this.retained = retained;
  }

  /** Refuses (409) to delete the tag or digest `reference` of `repository` while a retained image is it or points at it. */
  refuseIfRetained(repository: string, reference: { tag: string } | { digest: string }): void {
    const image = this.retainedAs(repository, reference);
    if (image) {
      const name = image.tag !== undefined ? `${repository}:${image.tag}` : `${repository}@${image.digest}`;
      throw new RegistryError('DENIED', `${name} is kept: it is desired at this site by ${image.by}; it can be deleted once no longer desired`, { repository, 'desired-by': image.by }, 409);
    }
  }

  /** The retained image that is the tag or digest `reference` of `repository`, or points at it. */
  retainedAs(repository: string, reference: { tag: string } | { digest: string }): RetainedImage | undefined {
    return (this.retained.get(repository) ?? []).find((image) =>
      'tag' in reference
        ? image.tag === reference.tag
        : image.digest === reference.digest || (image.tag !== undefined && this.index.resolveTag(repository, image.tag) === reference.digest),
    );
  }

  /** Checked with no await before the delete that follows it, so no index can be recorded in between. */
  refuseIfListed(repository: string, digest: string): void {
    const indexes = this.index.indexesListing(repository, digest);
    if (indexes.length === 0) return;
    throw new RegistryError(
      'DENIED',
      `manifest ${digest} is listed by the image index ${indexes[0]}${indexes.length > 1 ? ` (and ${indexes.length - 1} more)` : ''} in repository ${repository}; delete the index first, or delete it with the index`,
      { digest, index: indexes[0], indexes: indexes.slice(0, 10) },
      409,
    );
  }
}
