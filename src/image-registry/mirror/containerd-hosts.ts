// The containerd side of pull-through: for each mirrored remote registry, the `hosts.toml` (containerd's
// docs/hosts.md) that sends containerd's pulls of that registry's images to this site registry first, with the
// registry itself as the fallback `server`. containerd adds `?ns=<registry>` to every request to a mirror host,
// which is how the site registry knows which registry a request is for.
import type { RemoteRegistry } from '../remote-registry.js';

/** containerd's usual certs directory (`config_path` of its CRI registry configuration). */
export const CERTS_DIR = '/etc/containerd/certs.d';
/** The file beside hosts.toml holding the CA of the site registry's certificate (hosts.toml names it relatively). */
const CA_FILE = 'berth-site-registry-ca.crt';
/** Stands in for a token of role `read` in the files: an answer never holds a token. */
export const RUNTIME_TOKEN_PLACEHOLDER = 'BERTH_RUNTIME_TOKEN';

export interface SiteRegistryEndpoint {
  /** How runtimes reach the site registry: `scheme://host[:port][/prefix]` (its /v2 is below it). */
  url: string;
  /** The CA certificate (PEM) of its https certificate, when runtimes need one to trust it. */
  caCertPem?: string;
  /** Whether it serves pulls without credentials (BERTH_REGISTRY_ANONYMOUS_PULL). */
  anonymousPull: boolean;
}

export interface ContainerdHostsFile {
  registry: string;
  path: string;
  content: string;
}

/** The contract's ContainerdHosts. */
export interface ContainerdHosts {
  'site-registry': string;
  'certs-dir': string;
  install: string;
  placeholders?: Array<{ name: string; description: string }>;
  files: ContainerdHostsFile[];
}

/** A TOML basic string; the values written here hold no control characters, quotes are escaped anyway. */
const tomlString = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function hostsToml(registry: RemoteRegistry, endpoint: SiteRegistryEndpoint, siteName: string): string {
  const base = endpoint.url.replace(/\/+$/, '');
  // Without a path containerd appends /v2 itself; below a prefix it must be told the whole path (override_path).
  const prefixed = new URL(base).pathname !== '/';
  const host = prefixed ? `${base}/v2` : base;
  const lines = [
    `# Written by Berth (${siteName}): containerd pulls ${registry.address} through the site registry at ${base},`,
    `# which fetches what it does not have from ${registry.address} and serves what it has when ${registry.address} is down.`,
    `server = ${tomlString(`https://${registry.address}`)}`,
    '',
    `[host.${tomlString(host)}]`,
    '  capabilities = ["pull", "resolve"]',
    ...(endpoint.caCertPem !== undefined ? [`  ca = ${tomlString(CA_FILE)}`] : []),
    ...(prefixed ? ['  override_path = true'] : []),
    ...(endpoint.anonymousPull ? [] : [`  [host.${tomlString(host)}.header]`, `    Authorization = ${tomlString(`Bearer \${${RUNTIME_TOKEN_PLACEHOLDER}}`)}`]),
  ];
  return `${lines.join('\n')}\n`;
}

function installText(anonymousPull: boolean): string {
  return [
    `Put each file at its path under containerd's certs directory (${CERTS_DIR}).`,
    'containerd reads it on every pull (no restart) when its CRI registry configuration points there:',
    '  [plugins."io.containerd.grpc.v1.cri".registry]',
    `    config_path = "${CERTS_DIR}"`,
    `ctr reads it with: ctr images pull --hosts-dir ${CERTS_DIR} <registry>/<repository>:<tag>`,
    ...(anonymousPull
      ? []
      : [
          `Replace \${${RUNTIME_TOKEN_PLACEHOLDER}} with a token of role read (POST /v1/config/system/tokens at this Berth), or let`,
          `the CLI do it: ${RUNTIME_TOKEN_PLACEHOLDER}=<token> berth show state image-registry containerd-hosts --write-dir ${CERTS_DIR}`,
          'The files then hold the token: keep them readable by root only.',
        ]),
  ].join('\n');
}

/** The files for every mirrored registry, and how to install them. */
export function containerdHosts(registries: readonly RemoteRegistry[], endpoint: SiteRegistryEndpoint, siteName: string): ContainerdHosts {
  const files = registries
    .filter((registry) => registry.mirror?.enabled)
    .flatMap((registry): ContainerdHostsFile[] => [
      { registry: registry.address, path: `${registry.address}/hosts.toml`, content: hostsToml(registry, endpoint, siteName) },
      ...(endpoint.caCertPem !== undefined ? [{ registry: registry.address, path: `${registry.address}/${CA_FILE}`, content: endpoint.caCertPem }] : []),
    ]);
  return {
    'site-registry': endpoint.url,
    'certs-dir': CERTS_DIR,
    install: installText(endpoint.anonymousPull),
    ...(endpoint.anonymousPull
      ? {}
      : { placeholders: [{ name: RUNTIME_TOKEN_PLACEHOLDER, description: 'a Berth API token of role read, which the site registry takes as the Bearer token of the runtime' }] }),
    files,
  };
}
