// The CLI's reading of paths, flags and bodies against the contract: every path of openapi/berth.yaml is reachable
// by the words a person types, `--arg` values are typed by the body schema, YAML errors carry line and column, and
// contexts live where XDG_CONFIG_HOME or HOME say, private to their owner. And the CLI imports nothing of the server.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/cli/cli-error.js';
import { Contract } from '../../src/cli/contract.js';
import { chooseTarget, contextsPath, readContexts, writeContexts } from '../../src/cli/contexts.js';
import { operationBody, readBodyFile } from '../../src/cli/request-body.js';
import { describeTemplate, nextSegments, resolvePath } from '../../src/cli/resource-path.js';
import { run, type Io } from '../../src/cli/program.js';
import { PROJECT_ROOT } from '../helpers/berth.js';

const contract = Contract.load();

describe('paths', () => {
  it('reads words, slashes or both, with config the default tree of show and state that of do', () => {
    const expected = '/v1/config/image-registry/remote-registries/registry.example.com:5000';
    for (const words of [
      ['image-registry', 'remote-registries', 'registry.example.com:5000'],
      ['image-registry/remote-registries/registry.example.com:5000'],
      ['config', 'image-registry/remote-registries', 'registry.example.com:5000'],
      ['/v1/config/image-registry/remote-registries/registry.example.com:5000'],
    ]) {
      assert.equal(resolvePath(contract, words, 'config', 'get').path, expected, words.join(' '));
    }
    assert.equal(resolvePath(contract, ['image-registry', 'remote-registries', 'r.example.com', 'pull'], 'state', 'post').path, '/v1/state/image-registry/remote-registries/r.example.com/pull');
    assert.equal(resolvePath(contract, ['state', 'image-registry', 'pulls'], 'config', 'get').path, '/v1/state/image-registry/pulls');
  });

  it('lets a repository name with slashes span words, and escapes it as one value', () => {
    const resolved = resolvePath(contract, ['state', 'image-registry', 'repositories', 'team/app', 'tags', 'v1'], 'config', 'delete');
    assert.equal(resolved.template.path, '/v1/state/image-registry/repositories/{repository-name}/tags/{tag}');
    assert.equal(resolved.path, '/v1/state/image-registry/repositories/team%2Fapp/tags/v1');
    assert.equal(resolvePath(contract, ['state/image-registry/repositories/a/b/c'], 'config', 'get').path, '/v1/state/image-registry/repositories/a%2Fb%2Fc');
  });

  it('reaches every path and method of the contract from words', () => {
    for (const template of contract.templates) {
      const words = [template.tree, ...template.segments.map((s) => ('literal' in s ? s.literal : s.parameter.name === 'repository-name' ? 'team/app' : 'x1'))];
      for (const method of template.operations.keys()) {
        assert.equal(resolvePath(contract, words, 'config', method).template.path, template.path, `${method} ${template.path}`);
      }
    }
  });

  it('says what exists when a path or a verb does not fit', () => {
    assert.throws(() => resolvePath(contract, ['image-registry', 'remote-registreis'], 'config', 'get'), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /no such path in the API: 'config image-registry remote-registreis'; after 'config image-registry' come: remote-registries/);
      return true;
    });
    assert.throws(() => resolvePath(contract, ['state', 'image-registry', 'pulls'], 'config', 'delete'), /cannot be used with this verb; it offers: show/);
    assert.deepEqual(nextSegments(contract, 'state', ['image-registry', 'remote-registries', 'x'], 'post'), ['list-images', 'list-repositories', 'pull', 'verify-credentials']);
  });
});

describe('bodies', () => {
  const pull = resolvePath(contract, ['image-registry', 'pull'], 'state', 'post').operation;
  const gc = resolvePath(contract, ['image-registry', 'garbage-collect'], 'state', 'post').operation;
  const listImages = resolvePath(contract, ['image-registry', 'remote-registries', 'x', 'list-images'], 'state', 'post').operation;

  it('types --arg values as the body schema says', () => {
    assert.deepEqual(operationBody(contract, pull, undefined, ['image=r.example.com/a:1', 'all-platforms=true']), { image: 'r.example.com/a:1', 'all-platforms': true });
    assert.deepEqual(operationBody(contract, gc, undefined, ['grace-period-seconds=0']), { 'grace-period-seconds': 0 });
    assert.deepEqual(operationBody(contract, listImages, undefined, ['repository=a/b', 'tags=v1,v2', 'digest-length=short']), { repository: 'a/b', tags: ['v1', 'v2'], 'digest-length': 'short' });
    assert.throws(() => operationBody(contract, pull, undefined, ['all-platforms=yes']), /--arg all-platforms=yes: expected true or false/);
    assert.throws(() => operationBody(contract, pull, undefined, ['image']), /--arg image: expected NAME=VALUE/);
  });

  it('reports a file that does not parse with line and column, and an empty one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-cli-body-'));
    try {
      writeFileSync(join(dir, 'bad.yaml'), 'address: a.example.com\ncredentials:\n  - repository: "*\n');
      assert.throws(() => readBodyFile(join(dir, 'bad.yaml')), /bad\.yaml does not parse as YAML or JSON at line \d+, column \d+: .*; nothing was sent/);
      writeFileSync(join(dir, 'empty.yaml'), '# nothing\n');
      assert.throws(() => readBodyFile(join(dir, 'empty.yaml')), /empty\.yaml is empty; nothing was sent/);
      writeFileSync(join(dir, 'ok.yaml'), 'address: a.example.com\nport: 5000\n');
      assert.deepEqual(readBodyFile(join(dir, 'ok.yaml')), { address: 'a.example.com', port: 5000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('contexts', () => {
  it('live under XDG_CONFIG_HOME, else HOME/.config, readable by their owner only; BERTH_URL and BERTH_TOKEN win', () => {
    const home = mkdtempSync(join(tmpdir(), 'berth-cli-home-'));
    try {
      assert.equal(contextsPath({ HOME: home }), join(home, '.config', 'berth', 'config.yaml'));
      assert.equal(contextsPath({ HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') }), join(home, 'xdg', 'berth', 'config.yaml'));
      const env = { HOME: home };
      writeContexts({ 'current-context': 'edge', contexts: { edge: { url: 'http://edge.example.com:4646/', token: 'edge-token' }, tower: { url: 'https://tower.example.com' } } }, env);
      assert.equal(statSync(contextsPath(env)).mode & 0o777, 0o600);
      assert.equal(statSync(join(home, '.config', 'berth')).mode & 0o777, 0o700);
      assert.equal(readContexts(env)['current-context'], 'edge');
      assert.deepEqual(chooseTarget({}, env), { url: 'http://edge.example.com:4646', token: 'edge-token', tokenSource: "context 'edge'", source: "context 'edge'" });
      assert.deepEqual(chooseTarget({ context: 'tower' }, env), { url: 'https://tower.example.com', source: "context 'tower'" });
      const overridden = chooseTarget({}, { ...env, BERTH_URL: 'http://127.0.0.1:9', BERTH_TOKEN: 'env-token' });
      assert.deepEqual([overridden.url, overridden.token, overridden.tokenSource], ['http://127.0.0.1:9', 'env-token', 'BERTH_TOKEN']);
      assert.throws(() => chooseTarget({ context: 'nope' }, env), /no context 'nope'.*known: edge, tower/);

      // A context of single sign-on: its session file beside the contexts file, one file name whatever the context's name.
      writeContexts({ contexts: { 'a/../b': { url: 'https://sso.example.com', sso: { 'idp-ca-cert': '/etc/idp-ca.pem' } } } }, env);
      const sso = chooseTarget({ context: 'a/../b' }, env);
      assert.deepEqual(sso.sso, { sessionFile: join(home, '.config', 'berth', 'sso', 'a%2F..%2Fb.json'), idpCaCertFile: '/etc/idp-ca.pem', context: 'a/../b' });
      assert.equal(sso.token, undefined);
      const tokenOver = chooseTarget({ context: 'a/../b' }, { ...env, BERTH_TOKEN: 'env-token' });
      assert.deepEqual([tokenOver.token, tokenOver.sso], ['env-token', undefined], 'BERTH_TOKEN overrides the single sign-on');
      assert.throws(() => chooseTarget({}, { HOME: join(home, 'empty') }), /no Berth to talk to: run 'berth login URL --token TOKEN'/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

/** `berth ARGS` in this process, with its output captured; for what needs no server (help). */
async function berthHere(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const stream = (name: 'stdout' | 'stderr') => ({ isTTY: false, write: (text: string) => ((out[name] += text), true) }) as unknown as NodeJS.WriteStream;
  const io: Io = { stdin: process.stdin, stdout: stream('stdout'), stderr: stream('stderr') };
  const code = await run(args, io);
  return { code, ...out };
}

describe('help', () => {
  it('berth --help names every verb and every path of the contract; each verb has complete help', async () => {
    const help = await berthHere(['--help']);
    assert.equal(help.code, 0);
    const verbs = ['show', 'create', 'merge', 'replace', 'delete', 'do', 'login', 'logout', 'context', 'completion'];
    for (const verb of verbs) assert.match(help.stdout, new RegExp(`^  ${verb} `, 'm'), verb);
    for (const template of contract.templates) assert.ok(help.stdout.includes(describeTemplate(template)), describeTemplate(template));
    assert.match(help.stdout, /Exit codes: 0 success, 1 Berth refused [^]*?2 usage error [^]*?3 Berth cannot be reached/);
    for (const verb of verbs) {
      const res = await berthHere([verb, '--help']);
      assert.equal(res.code, 0, verb);
      assert.match(res.stdout, new RegExp(`^Usage: berth ${verb} `, 'm'), verb);
      assert.match(res.stdout, /--site|--token|list|<shell>|Nothing is revoked/, verb);
      if (!['context', 'completion'].includes(verb)) assert.match(res.stdout, /^Examples?:$/m, `${verb} has examples`);
    }
    const login = (await berthHere(['login', '--help'])).stdout;
    for (const flag of ['--token <token>', '--sso', '--idp-ca-cert <file>', '--scope <scope>']) assert.ok(login.includes(flag), flag);
    assert.match(login, /OAuth 2\.0 device\s+authorization\s+grant/);
    assert.match(login, /^  berth login \S+ --sso$/m);
    assert.match((await berthHere(['logout', '--help'])).stdout, /Nothing is revoked: the identity provider is\s+not\s+told/);
    assert.deepEqual(await berthHere(['--version']), { code: 0, stdout: `${(JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`, stderr: '' });
  });

  it('the package installs the command berth from the build, which keeps the shebang', () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.deepEqual(pkg.bin, { berth: 'dist/src/cli/main.js' });
    assert.match(readFileSync(join(PROJECT_ROOT, 'src', 'cli', 'main.ts'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });
});

describe('the CLI is a client of the HTTP API only', () => {
  it('imports nothing from the server: only its own modules and packages', () => {
    const dir = join(PROJECT_ROOT, 'src', 'cli');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 5, 'the CLI sources are found');
    for (const file of files) {
      const source = readFileSync(join(dir, file), 'utf8');
      for (const [, specifier] of source.matchAll(/\bfrom\s+'([^']+)'/g)) {
        // A relative import must stay inside src/cli (its subfolders included).
        if (specifier!.startsWith('.')) assert.ok(resolve(dirname(join(dir, file)), specifier!).startsWith(dir + sep), `${file} imports ${specifier}`);
      }
    }
  });
});
