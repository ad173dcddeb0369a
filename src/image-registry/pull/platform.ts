// Which platform a pull takes out of an image index: the names operators type (`x86_64`, `aarch64`,
// `linux/arm64/v8`) and Node's `process.arch`, normalised to OCI os/architecture/variant and matched against entries.
import { invalidInput } from '../../errors.js';
import { formatPlatform, isAttestationManifest, type Descriptor, type Platform } from '../../image-spec/index.js';

/** What a pull asked for; an absent variant matches any variant of the architecture. */
export interface PlatformChoice {
  os: string;
  architecture: string;
  variant?: string;
}

interface Architecture {
  architecture: string;
  variant?: string;
}

/** Kernel (`uname -m`), Debian and Node names of architectures, as the OCI image spec names them (GOARCH). */
const ARCHITECTURE_ALIASES: Record<string, Architecture> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  x64: { architecture: 'amd64' },
  amd64: { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  arm64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armv7: { architecture: 'arm', variant: 'v7' },
  armv7l: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  armv6: { architecture: 'arm', variant: 'v6' },
  armv6l: { architecture: 'arm', variant: 'v6' },
  arm: { architecture: 'arm' },
  i386: { architecture: '386' },
  i686: { architecture: '386' },
  ia32: { architecture: '386' },
  '386': { architecture: '386' },
  ppc64el: { architecture: 'ppc64le' },
  ppc64le: { architecture: 'ppc64le' },
};

/** The variant an entry without one has: arm64 images are v8 unless they say otherwise. */
const DEFAULT_VARIANT: Record<string, string> = { arm64: 'v8' };

const normaliseArchitecture = (name: string): Architecture => ARCHITECTURE_ALIASES[name] ?? { architecture: name };

const NAME = /^[a-z0-9_.-]+$/;

/** Parses `arch`, `os/arch` or `os/arch/variant` (case-insensitive); an architecture alone means Linux. */
export function parsePlatform(text: string): PlatformChoice {
  const parts = text.toLowerCase().split('/');
  if (parts.length > 3 || !parts.every((p) => NAME.test(p))) {
    throw invalidInput(`platform '${text}': expected os/architecture[/variant] (linux/arm64/v8) or an architecture (x86_64, arm64)`, { path: '/platform' });
  }
  const [os, architecture, variant] = parts.length === 1 ? ['linux', parts[0]!, undefined] : [parts[0]!, parts[1]!, parts[2]];
  const normalised = normaliseArchitecture(architecture);
  const chosenVariant = variant ?? normalised.variant;
  return { os, architecture: normalised.architecture, ...(chosenVariant ? { variant: chosenVariant } : {}) };
}

/** The platform of the host Berth runs on, from `process.arch` (Node calls ppc64le `ppc64`). */
export function hostPlatform(arch: string = process.arch): PlatformChoice {
  if (arch === 'arm') {
    const armVersion = (process.config.variables as { arm_version?: string }).arm_version;
    return { os: 'linux', architecture: 'arm', ...(armVersion ? { variant: `v${armVersion}` } : {}) };
  }
  return { os: 'linux', ...normaliseArchitecture(arch === 'ppc64' ? 'ppc64le' : arch) };
}

export const describePlatform = (choice: PlatformChoice): string => formatPlatform(choice);

const variantOf = (platform: Platform): string | undefined => platform.variant ?? DEFAULT_VARIANT[platform.architecture];

export function matchesPlatform(platform: Platform | undefined, choice: PlatformChoice): boolean {
  if (!platform) return false;
  if (platform.os.toLowerCase() !== choice.os) return false;
  if (normaliseArchitecture(platform.architecture.toLowerCase()).architecture !== choice.architecture) return false;
  if (choice.variant === undefined) return true;
  // An entry that names no variant (and has no default one) cannot be told apart: it matches.
  const entryVariant = variantOf(platform);
  return entryVariant === undefined || entryVariant === choice.variant;
}

/** The runnable images of an index, as `os/arch[/variant]`: what a message lists when a platform is missing. */
export const availablePlatforms = (entries: readonly Descriptor[]): string[] =>
  [...new Set(entries.filter((e) => !isAttestationManifest(e) && e.platform).map((e) => formatPlatform(e.platform!)))];

/**
 * The index entry for `choice`: the first runnable entry that matches, preferring one whose variant is exactly
 * the one asked for (an index may list arm/v6 and arm/v7). Undefined when none matches.
 */
export function selectPlatform(entries: readonly Descriptor[], choice: PlatformChoice): Descriptor | undefined {
  const candidates = entries.filter((e) => !isAttestationManifest(e) && matchesPlatform(e.platform, choice));
  return candidates.find((e) => choice.variant !== undefined && variantOf(e.platform!) === choice.variant) ?? candidates[0];
}
