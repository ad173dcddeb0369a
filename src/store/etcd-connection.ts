// How Berth reaches an etcd cluster: the endpoints, TLS and credentials of BERTH_ETCD_*, and the gRPC client options
// (a deadline on each call, keepalives, unreachable members skipped) every call of the etcd store goes through.
import { rootCertificates } from 'node:tls';
import type { IOptions } from 'etcd3';
import { passThrough, skipUnreachable } from './etcd-endpoint-policy.js';

export interface EtcdStoreSettings {
  /** `http(s)://host:port` of the members to use; any of them serves any request. */
  endpoints: string[];
  /** PEM texts for https endpoints: the CA to trust (system roots when absent) and a client certificate. */
  tls?: { caCertPem?: string; certPem?: string; keyPem?: string };
  auth?: { username: string; password: string };
  /** Every key Berth writes starts with this (ends in `/`), so several Berths or other tools can share a cluster. */
  prefix: string;
}

/**
 * A bound on each call; a retry then goes to another member. A write sent to a follower just as the leader dies waits
 * for etcd's own request timeout (7 s), so this is what a leader kill costs a request; commits take milliseconds.
 */
const CALL_TIMEOUT_MS = 2_000;

const utf8 = (text: string) => Buffer.from(text, 'utf8');

export function clientOptions(settings: EtcdStoreSettings): IOptions {
  const { tls, auth } = settings;
  return {
    hosts: settings.endpoints,
    ...(tls && (tls.caCertPem || tls.certPem)
      ? {
          credentials: {
            rootCertificate: utf8(tls.caCertPem ?? rootCertificates.join('\n')),
            ...(tls.certPem && tls.keyPem ? { certChain: utf8(tls.certPem), privateKey: utf8(tls.keyPem) } : {}),
          },
        }
      : {}),
    ...(auth ? { auth: { username: auth.username, password: auth.password } } : {}),
    grpcOptions: {
      // A list page or a watch catch-up may exceed gRPC's 4 MiB default; etcd bounds each value anyway.
      'grpc.max_receive_message_length': -1,
      // Notice a silently dead connection (no RST) within ~15 s; etcd accepts pings every 5 s or slower.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    },
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
    faultHandling: { host: skipUnreachable, global: passThrough() },
  };
}
