// The platform of a single-platform image: an image manifest carries none, its image config does (`os`,
// `architecture`, `variant`). Configs are small; each is fetched once per operation and its digest checked.
import {
  Digester,
  RegistryError,
  parseDigest,
  platformString,
  type Descriptor,
  type Platform,
  type RegistryClient,
} from '../../oci/index.js';

/** Config media types that hold a platform; anything else (an artifact's config) has none to read. */
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
const UNKNOWN_PLATFORM = 'unknown/unknown';

const stringField = (value: Record<string, unknown>, name: string): string | undefined =>
  typeof value[name] === 'string' && value[name] !== '' ? (value[name] as string) : undefined;

export class ImagePlatforms {
  private readonly byDigest = new Map<string, Promise<string>>();

  constructor(
    private readonly client: RegistryClient,
    private readonly repository: string,
    /** Image configs are kilobytes; more than this (BERTH_MAX_CONFIG_BYTES) is not read. */
    private readonly maxConfigBytes: number,
  ) {}

  /** `os/arch[/variant]` from the config `config` describes, or `unknown/unknown` when it names none. */
  platformOf(config: Descriptor): Promise<string> {
    if (!IMAGE_CONFIG_TYPES.has(config.mediaType)) return Promise.resolve(UNKNOWN_PLATFORM);
    let platform = this.byDigest.get(config.digest);
    if (!platform) {
      platform = this.read(config);
      this.byDigest.set(config.digest, platform);
    }
    return platform;
  }

  private fail(message: string): RegistryError {
    return new RegistryError({ kind: 'bad-response', registry: this.client.registry }, `registry ${this.client.label}: ${message}`);
  }

  private async read(config: Descriptor): Promise<string> {
    const subject = `config ${this.repository}@${config.digest}`;
    const digest = parseDigest(config.digest);
    if (!digest) throw this.fail(`${subject}: not a sha256/sha512 digest`);
    if (config.size > this.maxConfigBytes) {
      throw this.fail(`${subject}: ${config.size} bytes, more than the ${this.maxConfigBytes} Berth reads of an image config (BERTH_MAX_CONFIG_BYTES)`);
    }
    const download = await this.client.getBlob(this.repository, config.digest);
    const digester = new Digester(digest.algorithm);
    const chunks: Buffer[] = [];
    for await (const chunk of download.body) {
      const bytes = chunk as Buffer;
      digester.update(bytes);
      if (digester.bytes > Math.min(config.size, this.maxConfigBytes)) {
        download.body.destroy();
        throw this.fail(`${subject}: more bytes sent than the ${config.size} its descriptor gives`);
      }
      chunks.push(bytes);
    }
    if (digester.digest() !== config.digest) throw this.fail(`${subject}: the bytes received do not match the digest`);
    let document: unknown;
    try {
      document = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw this.fail(`${subject}: not valid JSON`);
    }
    if (typeof document !== 'object' || document === null || Array.isArray(document)) return UNKNOWN_PLATFORM;
    const fields = document as Record<string, unknown>;
    const os = stringField(fields, 'os');
    const architecture = stringField(fields, 'architecture');
    if (!os || !architecture) return UNKNOWN_PLATFORM;
    const variant = stringField(fields, 'variant');
    const platform: Platform = { os, architecture, ...(variant ? { variant } : {}) };
    return platformString(platform);
  }
}
