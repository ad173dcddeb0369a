// vault-dev: a small secret store server that speaks HashiCorp Vault's HTTP API (the parts Berth
// uses), so Berth and its tests can run where Vault itself cannot be installed.
//
// What it implements: sys/init, sys/unseal, sys/seal, sys/seal-status, sys/health, sys/leader,
// sys/mounts (KV version 2 engines; `secret/` exists from the start), sys/policy and
// sys/policies/acl (ACL policies in Vault's HCL), sys/capabilities-self, auth/token/* (root token,
// child tokens, lookup, renew, revoke, with Vault's creation rules and max lease TTL), and the KV v2
// engine (versions, check-and-set, soft delete, undelete, destroy, metadata, LIST). Paths, bodies,
// status codes and error texts follow Vault, so a real Vault or OpenBao can replace it unchanged.
// It refuses what it does not implement (response wrapping, periodic and batch tokens, policy
// parameter constraints) with a 400 rather than answering as if it had.
//
// Storage (--data-dir): every secret, token and policy is encrypted with AES-256-GCM under a
// data-encryption key; that key is encrypted under a root key which is split with Shamir's secret
// sharing and never written down. A restart comes up sealed. Writes are fsynced before they are
// acknowledged. --dev keeps everything in memory, initialised with one unseal key and unsealed,
// and prints the unseal key and root token the way `vault server -dev` does.
//
// Usage: node dist/vault-dev/src/main.js server --dev   (after `make build`; or `make vault-dev`)
//        node dist/vault-dev/src/main.js server --data-dir=/var/lib/vault-dev --listen=127.0.0.1:8200

import { VaultCore } from './core.js';
import { parseServerOptions, USAGE, UsageError, type ServerOptions } from './options.js';
import { startVaultServer, type RunningServer } from './server.js';
import { FileStore, MemoryStore } from './storage.js';

async function main(): Promise<void> {
  let options: ServerOptions | 'help';
  try {
    options = parseServerOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`vault-dev: ${err.message} (see --help)\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }

  const store = options.dev ? new MemoryStore() : await FileStore.open(options.dataDir!);
  const core = await VaultCore.open(store, { maxLeaseTtl: options.maxLeaseTtl });
  let devCredentials: { unsealKey: string; rootToken: string } | undefined;
  if (options.dev) {
    const { keys, rootToken } = await core.initialize(1, 1, options.devRootTokenId);
    await core.submitUnsealKey(keys[0]!);
    devCredentials = { unsealKey: keys[0]!.toString('base64'), rootToken };
  }

  const server = await startVaultServer(core, options.listenHost, options.listenPort, {
    readHeaderMs: options.readHeaderTimeoutMs,
    readMs: options.readTimeoutMs,
  });
  // Handlers go in before the "listening" line: whoever reads it may signal us at once.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  if (devCredentials) printDevBanner(server, devCredentials);
  process.stdout.write(`vault-dev listening on ${server.url}\n`);
}

/** The same information, in the same words, as `vault server -dev` prints. */
function printDevBanner(server: RunningServer, credentials: { unsealKey: string; rootToken: string }): void {
  process.stdout.write(
    [
      'WARNING! dev mode is enabled! In this mode, Vault runs entirely in-memory',
      'and starts unsealed with a single unseal key. The root token is already',
      'authenticated to the CLI, so you can immediately begin using Vault.',
      '',
      'You may need to set the following environment variables:',
      '',
      `    $ export VAULT_ADDR='${server.url}'`,
      '',
      'The unseal key and root token are displayed below in case you want to',
      'seal/unseal the Vault or re-authenticate.',
      '',
      `Unseal Key: ${credentials.unsealKey}`,
      `Root Token: ${credentials.rootToken}`,
      '',
      'Development mode should NOT be used in production installations!',
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`vault-dev: cannot start: ${(err as Error).message}\n`);
  process.exit(1);
});
