// The Node options Berth runs with (test/helpers/built.ts says why each): the same wherever Berth is started, and
// doing what they are there for on this Node, each checked against Node without them (so this test would see one stop
// working): two V8 worker threads instead of four; a hot function of a real WebAssembly module left at V8's baseline
// compiler instead of optimized.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BERTH_NODE_OPTIONS, PROJECT_ROOT } from '../helpers/built.js';

const execFileAsync = promisify(execFile);

/**
 * A module with one exported function, `spin(n)`, summing n down to 1 in a loop: hot enough for V8 to optimize it.
 * (module (func (export "spin") (param i32) (result i32) (local i32)
 *   (loop (local.set 1 (i32.add (local.get 1) (local.get 0))) (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
 *   (local.get 1)))
 */
const SPIN_MODULE = [
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00,
  0x07, 0x08, 0x01, 0x04, 0x73, 0x70, 0x69, 0x6e, 0x00, 0x00, 0x0a, 0x1b, 0x01, 0x19, 0x01, 0x01, 0x7f, 0x03, 0x40, 0x20,
  0x01, 0x20, 0x00, 0x6a, 0x21, 0x01, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b, 0x20, 0x01, 0x0b,
];

/**
 * Runs `spin` 2,000 times over 100,000 steps, then waits for V8 to have optimized it (at most `waitMs`, looking every
 * 10 ms): prints `optimized` or `baseline`. V8's natives syntax tells which compiler's code the function runs.
 */
const TIERING_PROBE = `
const { spin } = new WebAssembly.Instance(new WebAssembly.Module(Uint8Array.from(${JSON.stringify(SPIN_MODULE)}))).exports;
if (spin(10) !== 55) throw new Error('spin(10) is ' + spin(10));
for (let i = 0; i < 2000; i++) spin(100000);
const until = Date.now() + Number(process.argv[1]);
(function look() {
  if (eval('%IsTurboFanFunction(spin)')) return console.log('optimized');
  if (Date.now() >= until) return console.log(eval('%IsLiftoffFunction(spin)') ? 'baseline' : 'neither');
  setTimeout(look, 10);
})();
`;

async function tierOfHotFunction(options: string[], waitMs: number): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, [...options, '--allow-natives-syntax', '-e', TIERING_PROBE, String(waitMs)]);
  return stdout.trim();
}

describe('the Node options Berth runs with', () => {
  it("are the same in package.json's start, scripts/run.sh, scripts/run-site.sh and README's production command", () => {
    const command = `node ${BERTH_NODE_OPTIONS.join(' ')} dist/src/main.js`;
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
    assert.equal(pkg.scripts.start, command);
    for (const file of ['scripts/run.sh', 'scripts/run-site.sh', 'README.md']) {
      assert.ok(readFileSync(join(PROJECT_ROOT, file), 'utf8').includes(command), `${file} runs \`${command}\``);
    }
  });

  it('give V8 two worker threads, where Node starts four', async () => {
    const workers = async (options: string[]) => {
      const child = spawn(process.execPath, [...options, '-e', "process.stdout.write('ready'); setTimeout(() => {}, 60_000)"]);
      try {
        // The platform's workers start with the process, before any script runs: once it writes, they are all there.
        await once(child.stdout, 'data');
        const names = readdirSync(`/proc/${child.pid}/task`).map((task) => readFileSync(`/proc/${child.pid}/task/${task}/comm`, 'utf8').trim());
        return names.filter((name) => name === 'V8Worker').length;
      } finally {
        child.kill();
      }
    };
    assert.equal(await workers([]), 4);
    assert.equal(await workers(BERTH_NODE_OPTIONS), 2);
  });

  it('keep a hot WebAssembly function at the baseline compiler; without them V8 optimizes it', async () => {
    // Without: V8 optimizes it in the background within milliseconds here; 30 s leaves room for a loaded machine.
    assert.equal(await tierOfHotFunction([], 30_000), 'optimized');
    // With: after the same work and a wait far longer than that took, still the baseline compiler's code.
    assert.equal(await tierOfHotFunction(BERTH_NODE_OPTIONS, 500), 'baseline');
  });
});
