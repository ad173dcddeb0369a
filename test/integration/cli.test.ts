// The berth CLI driven as a person drives it: typed into bash in a tmux window and read off the screen, against a real
// control tower (Berth with vault-dev), a site following it, and a real docker-registry behind a proxy that counts blob
// GETs and can slow them down. Then what a script sees: exit codes, stderr and stdout apart, help, completion.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import yaml from 'js-yaml';
import { installBerthCommand, runBerthCli, type CliResult } from '../helpers/berth-cli.js';
import { converged, startSite, startTower, type RunningSite, type RunningTower } from '../helpers/berth-site.js';
import { startDockerRegistry, type RunningRegistry } from '../helpers/docker-registry.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-port.js';
import { buildSinglePlatformImage, pushImage, type BuiltImage } from '../helpers/oci-images.js';
import { startRegistryProxy, type RegistryProxy } from '../helpers/registry-proxy.js';
import { createCertificateAuthority, issueServerCertificate, type CertificateAuthority } from '../helpers/tls.js';
import { registerSecretValue } from '../helpers/secret-values.js';
import { startTerminal, type Terminal } from '../helpers/tmux.js';

const MiB = 1024 * 1024;
const PROXIED = 'cli.registry.test:5000';
const EXAMPLE = 'example.registry.test';

let ca: CertificateAuthority;
let registry: RunningRegistry;
let proxy: RegistryProxy;
let tower: RunningTower;
let edge: RunningSite;
let terminal: Terminal;
let home: string;
let big: BuiltImage;
let small: BuiltImage;

/** The shell's environment: a private HOME, `berth` on PATH (the built CLI), nothing of Berth's own. */
const shellEnv = () => ({ HOME: home, PATH: `${join(home, 'bin')}:${process.env.PATH}`, PS1: '$ ', HISTFILE: '/dev/null', LANG: 'C.UTF-8' });

/** `berth ARGS` as a script runs it: exit code, stdout and stderr apart. */
function berth(args: string[], env: Record<string, string> = {}, stdin = ''): Promise<CliResult> {
  return runBerthCli(args, { env: { ...shellEnv(), ...env }, cwd: home, stdin });
}

const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');
const short = (digest: string) => digest.slice(0, 'sha256:'.length + 12);
const UNIT: Record<string, number> = { B: 1, KiB: 1024, MiB: MiB, GiB: 1024 * MiB };

before(async () => {
  ca = createCertificateAuthority('CLI Test CA');
  home = mkdtempSync(join(tmpdir(), 'berth-cli-home-'));
  installBerthCommand(home);
  registry = await startDockerRegistry({ auth: { kind: 'none' }, ca });
  proxy = await startRegistryProxy({ port: registry.port, caCertPem: registry.caCertPem }, ca);
  tower = await startTower();
  edge = await startSite(tower, 'edge');
  // Built once: 200 MiB in three layers, so a pull lasts long enough on a slowed link to watch and interrupt.
  [big, small] = await Promise.all([
    buildSinglePlatformImage({ seed: 'cli-big', layerSizes: [2 * MiB, 4 * MiB, 194 * MiB] }),
    buildSinglePlatformImage({ seed: 'cli-small', layerSizes: [64 * 1024] }),
  ]);
  await Promise.all([
    pushImage(big, { address: registry.address, caCertPem: registry.caCertPem }, 'big/app', 'v1'),
    pushImage(small, { address: registry.address, caCertPem: registry.caCertPem }, 'small/app', 'v1'),
  ]);
  // The tokens the CLI is given: never on a screen, in a CLI's output or in Berth's log (secret-values.ts).
  registerSecretValue(tower.berth.adminToken);
  writeFileSync(join(home, 'tower-token'), tower.berth.adminToken, { mode: 0o600 });
  writeFileSync(join(home, 'edge-token'), edge.berth.adminToken, { mode: 0o600 });
  writeFileSync(join(home, 'proxied.yaml'), yaml.dump({ address: PROXIED, 'override-address': proxy.address, 'ca-cert': ca.certPem }));
  writeFileSync(join(home, 'example.yaml'), `address: ${EXAMPLE}\ncredentials:\n  - repository: "*"\n    vault: secret\n    secret: everyone\n`);
  writeFileSync(join(home, 'credential.yaml'), 'credentials:\n  - repository: team/app\n    vault: secret\n    secret: team\n');
  writeFileSync(join(home, 'replacement.yaml'), `address: ${EXAMPLE}\noverride-address: mirror.example.test:5000\n`);
  writeFileSync(join(home, 'validated.yaml'), 'address: validated.registry.test\n');
  writeFileSync(join(home, 'invalid.yaml'), 'address: "not an address!"\n');
  writeFileSync(join(home, 'broken.yaml'), 'address: example.com\ncredentials:\n  - repository: [unclosed\n    vault: x\n');
  terminal = await startTerminal({ env: shellEnv(), cwd: home });
});

after(async () => {
  await terminal?.close();
  await proxy?.stop();
  for (const close of [() => edge?.close(), () => tower?.close(), () => registry?.stop()]) await close();
  for (const image of [big, small]) image?.remove();
  rmSync(home, { recursive: true, force: true });
  rmSync(ca.dir, { recursive: true, force: true });
});

describe('in a terminal', () => {
  it('login keeps URL and token in ~/.config/berth/config.yaml (0600) and never shows the token; contexts switch', async () => {
    const login = await terminal.run(`berth login ${tower.berth.url} --token "$(cat tower-token)"`);
    assert.equal(login.exitCode, 0, login.screen);
    assert.match(login.screen, new RegExp(`logged in to ${tower.berth.url} \\(control-tower 'control-tower'\\) as context 'default'`));
    const file = join(home, '.config', 'berth', 'config.yaml');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(readFileSync(file, 'utf8').includes(tower.berth.adminToken));

    const second = await terminal.run(`berth login ${edge.url} --token "$(cat edge-token)" --context edge`);
    assert.equal(second.exitCode, 0, second.screen);
    const list = await terminal.run('berth context list');
    assert.equal(list.exitCode, 0, list.screen);
    assert.deepEqual(yaml.load(list.screen.slice(list.screen.indexOf('- name'))), [
      { name: 'default', url: tower.berth.url, token: 'set', current: false },
      { name: 'edge', url: edge.url, token: 'set', current: true },
    ]);
    assert.equal((await terminal.run('berth context use default')).exitCode, 0);
    for (const screen of [login.screen, second.screen, list.screen]) {
      assert.ok(!screen.includes(tower.berth.adminToken) && !screen.includes(edge.berth.adminToken), 'a token on the screen');
    }
  });

  it('creates from a YAML file, and shows with keys, count and fields', async () => {
    for (const file of ['proxied.yaml', 'example.yaml']) {
      const created = await terminal.run(`berth create image-registry remote-registries -f ${file}`);
      assert.equal(created.exitCode, 0, created.screen);
    }
    const keys = await terminal.run('berth show image-registry remote-registries --keys');
    assert.equal(keys.exitCode, 0, keys.screen);
    assert.deepEqual(yaml.load(keys.screen), [PROXIED, EXAMPLE]);
    const count = await terminal.run('berth show image-registry/remote-registries --count');
    assert.deepEqual(yaml.load(count.screen), { count: 2 });
    const fields = await terminal.run(`berth show image-registry remote-registries ${EXAMPLE} --fields 'address;credentials(repository)'`);
    assert.deepEqual(yaml.load(fields.screen), { address: EXAMPLE, credentials: [{ repository: '*' }] });
  });

  it('merges a credentials entry, replaces, and refuses a delete with a stale --if-match in one line naming 412', async () => {
    const merged = await terminal.run(`berth merge image-registry remote-registries ${EXAMPLE} -f credential.yaml`);
    assert.equal(merged.exitCode, 0, merged.screen);
    const both = await terminal.run(`berth show image-registry remote-registries ${EXAMPLE} --fields 'credentials(repository)'`);
    assert.deepEqual(yaml.load(both.screen), { credentials: [{ repository: '*' }, { repository: 'team/app' }] });

    const replaced = await terminal.run(`berth replace image-registry remote-registries ${EXAMPLE} -f replacement.yaml`);
    assert.equal(replaced.exitCode, 0, replaced.screen);
    const shown = await terminal.run(`berth show image-registry remote-registries ${EXAMPLE} -v`);
    const etag = /ETag: "(\d+)"/.exec(shown.screen)?.[1];
    assert.ok(etag, shown.screen);
    assert.deepEqual(yaml.load(shown.screen.slice(shown.screen.indexOf('address:'))), { address: EXAMPLE, 'override-address': 'mirror.example.test:5000' });

    const stale = await terminal.run(`berth delete image-registry remote-registries ${EXAMPLE} --if-match ${Number(etag) - 1}`);
    assert.equal(stale.exitCode, 1, stale.screen);
    assert.equal(lines(stale.screen).length, 1, stale.screen);
    assert.match(lines(stale.screen)[0]!, /^berth: 412 Precondition Failed: /);
    const deleted = await terminal.run(`berth delete image-registry remote-registries ${EXAMPLE} --if-match ${etag}`);
    assert.equal(deleted.exitCode, 0, deleted.screen);
    assert.deepEqual(yaml.load((await terminal.run('berth show image-registry remote-registries --keys')).screen), [PROXIED]);
  });

  it('--validate checks a write and changes nothing', async () => {
    const valid = await terminal.run('berth create image-registry remote-registries -f validated.yaml --validate');
    assert.equal(valid.exitCode, 0, valid.screen);
    const invalid = await terminal.run('berth create image-registry remote-registries -f invalid.yaml --validate');
    assert.equal(invalid.exitCode, 1, invalid.screen);
    assert.match(invalid.screen, /^berth: 400 Bad Request: address: /m);
    assert.deepEqual(yaml.load((await terminal.run('berth show image-registry remote-registries --keys')).screen), [PROXIED]);
  });

  it('do verify-credentials --site runs at the site', async () => {
    await converged(tower, edge);
    const verified = await terminal.run(`berth do image-registry remote-registries ${PROXIED} verify-credentials --site edge`);
    assert.equal(verified.exitCode, 0, verified.screen);
    assert.deepEqual(yaml.load(verified.screen), { success: true });
    const state = await edge.api.get(`/v1/state/image-registry/remote-registries/${PROXIED}?fields=last-verification(success)`);
    assert.deepEqual(state.body, { 'last-verification': { success: true } }, 'the verification ran at the site');
  });

  it('a 200 MiB pull shows moving bars; Ctrl-C stops it at Berth; the next pull fetches only what is missing', async (t) => {
    const [config, first, second, layer] = [big.manifests[0]!.config, ...big.manifests[0]!.layers];
    proxy.behaviour = { kind: 'throttle', bytesPerSecond: 20 * MiB };
    const pull = `berth do image-registry remote-registries ${PROXIED} pull --arg image=big/app:v1`;
    try {
      const which = await terminal.type(pull);
      const bar = new RegExp(`layer\\s+${short(layer!.digest)} [#-]+ +([\\d.]+) (B|KiB|MiB) / 194\\.0 MiB +([\\d.]+ (?:B|KiB|MiB)/s) +ETA`);
      const bytesOf = (match: RegExpMatchArray) => Number(match[1]) * UNIT[match[2]!]!;
      const once = await eventually('a bar for the big layer with bytes moving', async () => {
        const now = bar.exec(await terminal.screen());
        return now && bytesOf(now) > 0 ? now : undefined;
      });
      const later = await eventually('the bar moved', async () => {
        const now = bar.exec(await terminal.screen());
        return now && bytesOf(now) > bytesOf(once) ? now : undefined;
      });
      t.diagnostic(`bar of the big layer: ${once[1]} ${once[2]} then ${later[1]} ${later[2]} (${later[3]})`);
      assert.ok(bytesOf(later) > bytesOf(once), `${later[0]} after ${once[0]}`);
      assert.match(await terminal.screen(), new RegExp(`^pull \\S+: ${PROXIED}/big/app:v1 \\(platform [^)]+\\) to big/app:v1$`, 'm'));
      for (const blob of [config!, first!, second!]) await terminal.waitFor(new RegExp(`${short(blob.digest)} #+ .* done`), `the bar of ${blob.digest} full`);
      const running = bar.exec(await terminal.screen());
      assert.ok(running && bytesOf(running) < 194 * MiB, 'still running when interrupted');

      await terminal.press('C-c');
      const interrupted = await terminal.ended(which);
      assert.equal(interrupted.exitCode, 130, interrupted.screen);
      const id = /interrupted: pull (\S+) stops at Berth/.exec(interrupted.screen)?.[1];
      assert.ok(id, interrupted.screen);
      await eventually('the pull stopped at Berth', async () => ((await tower.api.get(`/v1/state/image-registry/pulls/${id}`)).body as { state: string }).state === 'stopped');
      const state = await terminal.run(`berth show state image-registry pulls ${id} --fields 'state;layers(state)'`);
      assert.deepEqual(yaml.load(state.screen), { state: 'stopped', layers: [{ state: 'done' }, { state: 'done' }, { state: 'done' }, { state: 'stopped' }] });
    } finally {
      proxy.behaviour = { kind: 'pass' };
    }

    const seen = proxy.blobRequests.length;
    const resumed = await terminal.run(pull);
    assert.equal(resumed.exitCode, 0, resumed.screen);
    assert.match(resumed.screen, /name: big\/app:v1/);
    assert.equal((resumed.screen.match(/already there/g) ?? []).length, 3, resumed.screen);
    assert.deepEqual(proxy.blobRequests.slice(seen), [{ digest: layer!.digest }], 'only the missing layer is fetched');
  });

  it('a wrong token is one clear line and exit 1; Berth down is exit 3', async () => {
    const refused = await terminal.run('BERTH_TOKEN=not-a-token berth show image-registry remote-registries');
    assert.equal(refused.exitCode, 1, refused.screen);
    assert.equal(lines(refused.screen).length, 1, refused.screen);
    assert.match(refused.screen, /^berth: 401 Unauthorized: unknown or revoked token \(the token from BERTH_TOKEN was refused/m);
    const port = await freePort();
    const down = await terminal.run(`BERTH_URL=http://127.0.0.1:${port} berth show image-registry remote-registries`);
    assert.equal(down.exitCode, 3, down.screen);
    assert.match(down.screen, new RegExp(`^berth: cannot reach Berth at http://127\\.0\\.0\\.1:${port} \\(BERTH_URL\\): connection refused`, 'm'));
  });
});

describe('in a script', () => {
  it('shows plain progress lines on stderr and the answer on stdout when stdout is not a terminal (a pull at a site)', async () => {
    const res = await berth(['do', 'image-registry', 'remote-registries', PROXIED, 'pull', '--arg', 'image=small/app:v1', '--arg', 'to=script/app', '--site', 'edge']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(yaml.load(res.stdout), { name: 'script/app:latest', digest: small.digest, 'tag-updated': true });
    const progress = lines(res.stderr);
    assert.match(progress[0]!, new RegExp(`^pull \\S+: ${PROXIED}/small/app:v1 \\(platform [^)]+\\) to script/app:latest$`));
    for (const blob of [small.manifests[0]!.config, ...small.manifests[0]!.layers]) {
      assert.ok(progress.some((l) => l.includes(short(blob.digest)) && /needed$/.test(l)), `needed ${blob.digest}`);
      assert.ok(progress.some((l) => l.includes(short(blob.digest)) && /: done, .* fetched$/.test(l)), `done ${blob.digest}`);
    }
    assert.equal(progress.at(-1), `stored script/app:latest (${small.digest})`);
    const id = /^pull (\S+):/.exec(progress[0]!)![1]!;
    assert.equal(((await edge.api.get(`/v1/state/image-registry/pulls/${id}`)).body as { state: string }).state, 'done', 'the pull ran at the site');
  });

  it('a pull that fails after its stream began is exit 1 with its message', async () => {
    const res = await berth(['do', 'image-registry', 'remote-registries', PROXIED, 'pull', '--arg', 'image=absent/app:v1']);
    assert.equal(res.code, 1, res.stderr);
    assert.equal(res.stdout, '');
    assert.match(lines(res.stderr).at(-1)!, new RegExp(`^berth: the operation failed: registry ${PROXIED} .*manifest absent/app:v1 not found`));
  });

  it('--ca-cert: a Berth behind TLS is reached with its CA, and refused without it (exit 3)', async () => {
    const certificate = issueServerCertificate(ca, 'berth-behind-tls');
    const front = createHttpsServer({ key: certificate.keyPem, cert: certificate.certPem }, (req, res) => {
      const upstream = httpRequest(`${tower.berth.url}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', () => resolve()));
    try {
      const env = { BERTH_URL: `https://127.0.0.1:${(front.address() as AddressInfo).port}`, BERTH_TOKEN: tower.berth.adminToken };
      const trusted = await berth(['show', 'image-registry', 'remote-registries', '--keys', '--ca-cert', ca.certPath], env);
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.deepEqual(yaml.load(trusted.stdout), [PROXIED]);
      const untrusted = await berth(['show', 'image-registry', 'remote-registries', '--keys'], env);
      assert.equal(untrusted.code, 3, untrusted.stderr);
      assert.match(untrusted.stderr, /^berth: cannot reach Berth at https:\/\/127\.0\.0\.1:\d+ \(BERTH_URL\): TLS failed \(\w+\); give the CA certificate with --ca-cert\n$/);
    } finally {
      front.closeAllConnections();
      front.close();
    }
  });

  it('-o json prints JSON; --no-wait answers at once with the pull it started', async () => {
    const res = await berth(['do', 'image-registry', 'pull', '--arg', `image=${PROXIED}/small/app:v1`, '--arg', 'to=script/later', '--no-wait', '-o', 'json']);
    assert.equal(res.code, 0, res.stderr);
    const started = JSON.parse(res.stdout) as { id: string; 'run-to-end': boolean };
    assert.equal(started['run-to-end'], true);
    await eventually('the --no-wait pull done', async () => ((await tower.api.get(`/v1/state/image-registry/pulls/${started.id}`)).body as { state: string }).state === 'done');
  });

  it('an unknown verb or flag prints usage on stderr and exits 2', async () => {
    const verb = await berth(['frobnicate']);
    assert.equal(verb.code, 2);
    assert.equal(verb.stdout, '');
    assert.match(verb.stderr, /unknown command 'frobnicate'/);
    assert.match(verb.stderr, /Usage: berth \[options\] \[command\]/);
    const flag = await berth(['show', 'image-registry', 'remote-registries', '--frobnicate']);
    assert.equal(flag.code, 2);
    assert.equal(flag.stdout, '');
    assert.match(flag.stderr, /unknown option '--frobnicate'/);
    assert.match(flag.stderr, /Usage: berth show \[options\] <path\.\.\.>/);
    const path = await berth(['show', 'image-registry', 'remote-registreis']);
    assert.equal(path.code, 2);
    assert.match(path.stderr, /^berth: no such path in the API: 'config image-registry remote-registreis'; after 'config image-registry' come: remote-registries, site-images, site-retention\n$/);
    const notHere = await berth(['show', 'image-registry', 'remote-registries', '--site', 'edge']);
    assert.equal(notHere.code, 2);
    assert.match(notHere.stderr, /--site: GET \/v1\/config\/image-registry\/remote-registries does not take 'site'/);
  });

  it('a refusal is one line on stderr; -v adds the error-info as YAML', async () => {
    const plain = await berth(['show', 'state', 'image-registry', 'pulls', 'no-such-pull']);
    assert.equal(plain.code, 1);
    assert.equal(plain.stdout, '');
    assert.deepEqual(lines(plain.stderr), ["berth: 404 Not Found: no pull 'no-such-pull': it never ran here, or finished longer ago than the last 100 kept"]);
    const verbose = await berth(['show', 'state', 'image-registry', 'pulls', 'no-such-pull', '-v']);
    assert.equal(verbose.code, 1);
    const [first, ...rest] = verbose.stderr.split('\n');
    assert.equal(first, lines(plain.stderr)[0]);
    assert.deepEqual(yaml.load(rest.join('\n')), { errors: [{ 'error-message': "no pull 'no-such-pull': it never ran here, or finished longer ago than the last 100 kept", 'error-info': { id: 'no-such-pull' } }] });
  });

  it('a YAML file that does not parse is reported with line and column, and nothing is sent', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await berth(['create', 'image-registry', 'remote-registries', '-f', 'broken.yaml'], { BERTH_URL: url, BERTH_TOKEN: 'unused-token' });
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /^berth: broken\.yaml does not parse as YAML or JSON at line 4, column 5: .*; nothing was sent\n$/);
      const piped = await berth(['merge', 'image-registry', 'remote-registries', 'x.example.com', '-f', '-'], { BERTH_URL: url, BERTH_TOKEN: 'unused-token' }, 'a: [b\n');
      assert.equal(piped.code, 2, piped.stderr);
      assert.match(piped.stderr, /standard input does not parse as YAML or JSON at line 2, column 1/);
      assert.equal(requests, 0);
    } finally {
      server.close();
    }
  });

  it('completion scripts for bash and zsh; candidates come from the contract and from Berth', async () => {
    const bash = await berth(['completion', 'bash']);
    assert.equal(bash.code, 0);
    // The script as bash runs it: registered for berth, and its function filling COMPREPLY from `berth __complete`.
    const inBash = (script: string) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn('bash', ['--norc', '-c', `${bash.stdout}\n${script}`], { env: shellEnv() });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.on('error', reject);
        child.on('close', () => resolve(out));
      });
    assert.equal((await inBash('complete -p berth')).trim(), 'complete -o default -F _berth_complete berth');
    const replies = await inBash(`COMP_WORDS=(berth do image-registry remote-registries ${PROXIED} v); COMP_CWORD=5; _berth_complete; printf '%s\\n' "\${COMPREPLY[@]}"`);
    assert.deepEqual(lines(replies), ['verify-credentials']);
    assert.match((await berth(['completion', 'zsh'])).stdout, /^#compdef berth$/m);
    assert.equal((await berth(['completion', 'fish'])).code, 2);

    const complete = async (...words: string[]) => lines((await berth(['__complete', ...words])).stdout);
    assert.deepEqual(await complete('sh'), ['show']);
    assert.deepEqual(await complete('show', 'image-registry', ''), ['remote-registries', 'site-images', 'site-retention']);
    assert.deepEqual(await complete('do', 'image-registry', 'remote-registries', PROXIED, 'p'), ['pull']);
    assert.deepEqual(await complete('do', 'image-registry', 'remote-registries', ''), [PROXIED], 'keys listed by Berth');
    assert.ok((await complete('show', '--k')).includes('--keys'));
  });
});
