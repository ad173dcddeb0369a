// Where and how to reach one remote registry: its address, an optional override address to connect to instead,
// and extra CA certificates trusted on top of the system roots. Always HTTPS; verification is never switched off.
import { X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { invalidInput } from '../errors.js';
import { isValidRegistryAddress } from './image-reference.js';

export interface RegistryEndpoint {
  /** `host[:port]` (IPv6 in brackets): the registry's name, used in messages and image names. */
  address: string;
  /**
   * `host[:port]` to connect to instead of `address`. The TLS server name and the Host header are then the
   * override host too (the connection really is to that host, so its certificate must name it).
   */
  overrideAddress?: string;
  /** PEM certificates trusted in addition to the system roots (a private CA, or a self-signed registry cert). */
  caCertPem?: string;
}

export interface EndpointConnection {
  /** `https://host:port` of the server we connect to. */
  origin: string;
  /** `host:port` we connect to, for messages. */
  connectAddress: string;
  /** The `ca` for TLS: system roots plus the endpoint's certificates; undefined means system roots only. */
  ca?: string[];
}

/** Node's root CAs. node:tls loads here, at the first connection that needs them, not at start (about 6 MiB). */
const systemRoots = (): readonly string[] => (createRequire(import.meta.url)('node:tls') as typeof import('node:tls')).rootCertificates;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in `pem`, checked to parse; a typo in a CA must fail at configuration, not at connect time. */
export function parseCertificates(pem: string): string[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw invalidInput('ca-cert holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      throw invalidInput(`ca-cert: certificate ${i + 1} does not parse`);
    }
  });
  return blocks;
}

/** Checks the endpoint and works out what to connect to and which CAs to trust. */
export function endpointConnection(endpoint: RegistryEndpoint): EndpointConnection {
  if (!isValidRegistryAddress(endpoint.address)) {
    throw invalidInput(`registry address '${endpoint.address}' is not host[:port]`);
  }
  if (endpoint.overrideAddress !== undefined && !isValidRegistryAddress(endpoint.overrideAddress)) {
    throw invalidInput(`override-address '${endpoint.overrideAddress}' is not host[:port]`);
  }
  const connectAddress = endpoint.overrideAddress ?? endpoint.address;
  // Node replaces its default roots when `ca` is given, so "in addition to" means passing both.
  const ca = endpoint.caCertPem ? [...systemRoots(), ...parseCertificates(endpoint.caCertPem)] : undefined;
  return { origin: `https://${connectAddress}`, connectAddress, ...(ca ? { ca } : {}) };
}

/** `host:port` of an origin with the default port spelled out, to compare hosts across URLs. */
export function hostOf(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}
