// src/transport: what every outbound caller of Berth shares, whichever protocol it speaks -- one client per
// configuration revision of each remote (ClientsByRevision: remote registries, sites), the keep-alive connection to
// another Berth (KeepAliveConnection: sites, the tower) with its retry of a dropped one, the concurrency limit put
// on one remote, and the Node/undici codes that say why no answer came (connection-failure.ts). The registry
// protocol's own layers (auth, redirects, retries, Range resume) are in src/oci.
export { ClientsByRevision, type Closable } from './clients-by-revision.js';
export { ConcurrencyLimit } from './concurrency-limit.js';
export * from './connection-failure.js';
export { KeepAliveConnection, type KeepAliveOptions, type ConnectionRequest } from './keep-alive-connection.js';
