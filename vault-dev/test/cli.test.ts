// vault-dev's command line: bad flags give one line on stderr and exit code 2 (no stack trace);
// --listen accepts port 0 and [::1]; the dev root token comes from the flag or the environment;
// SIGTERM ends the process cleanly.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { builtEntry, PROJECT_ROOT as REPO_ROOT } from '../../test/helpers/built.js';
import { startVaultDev, type VaultDevInstance } from '../../test/helpers/vault-dev.js';
import { vaultClient } from './support.js';

const MAIN = builtEntry('vault-dev/src', 'main');

/** Runs vault-dev with `args` to completion (for invocations that must not start a server). */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('vault-dev command line', () => {
  const started: VaultDevInstance[] = [];
  after(async () => {
    await Promise.all(started.map((v) => v.stop()));
  });

  const badCommandLines: Array<[string, string[], RegExp]> = [
    ['an unknown flag', ['server', '--dev', '--bogus'], /flag provided but not defined: -bogus/],
    ['a malformed listen address', ['server', '--dev', '--listen=localhost'], /invalid -listen address "localhost"/],
    ['an out-of-range port', ['server', '--dev', '--listen=127.0.0.1:70000'], /invalid -listen address/],
    ['a flag without its value', ['server', '--dev', '--listen'], /flag needs an argument: -listen/],
    ['no storage and no dev mode', ['server'], /-data-dir is required unless -dev is given/],
    ['dev mode with a data dir', ['server', '--dev', '--data-dir=/tmp/x'], /cannot be combined with -data-dir/],
    ['a stray argument', ['server', '--dev', 'extra'], /unexpected argument: extra/],
    ['a max lease TTL that is no duration', ['server', '--dev', '--max-lease-ttl=forever'], /invalid -max-lease-ttl "forever"/],
  ];
  for (const [what, args, message] of badCommandLines) {
    it(`exits 2 with one line on stderr for ${what}`, async () => {
      const result = await run(args);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
      assert.doesNotMatch(result.stderr, /\n\s+at /);
    });
  }

  it('prints usage for --help and exits 0', async () => {
    const result = await run(['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--data-dir/);
  });

  it('listens on a free port when given port 0, on [::1], and prints the real address', async () => {
    const v6 = await startVaultDev({ listen: '[::1]:0' });
    started.push(v6);
    assert.match(v6.addr, /^http:\/\/\[::1\]:\d+$/);
    assert.notEqual(new URL(v6.addr).port, '0');
    const health = await fetch(`${v6.addr}/v1/sys/health`);
    assert.equal(health.status, 200);
  });

  it('prints the dev root token and unseal key like vault server -dev, using VAULT_DEV_ROOT_TOKEN_ID', async () => {
    const vault = await startVaultDev({ env: { VAULT_DEV_ROOT_TOKEN_ID: 'from-the-environment' } });
    started.push(vault);
    assert.equal(vault.rootToken, 'from-the-environment');
    assert.match(vault.output(), /^Unseal Key: [A-Za-z0-9+/]{43}=$/m);
    assert.match(vault.output(), new RegExp(`export VAULT_ADDR='${vault.addr}'`));
    const lookup = await vaultClient(vault.addr, 'from-the-environment').tokenLookupSelf();
    assert.deepEqual(lookup.data.policies, ['root']);
  });

  it('generates a root token when none is given', async () => {
    const vault = await startVaultDev();
    started.push(vault);
    assert.match(vault.rootToken, /^hvs\.[0-9A-Za-z]{24}$/);
    const lookup = await vaultClient(vault.addr, vault.rootToken).tokenLookupSelf();
    assert.equal(lookup.data.id, vault.rootToken);
  });

  it('exits 0 on SIGTERM', async () => {
    const vault = await startVaultDev({ rootToken: 'sigterm' });
    vault.kill('SIGTERM');
    assert.equal(await vault.exited, 0);
  });
});
