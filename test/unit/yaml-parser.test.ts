// YAML bodies: small ones parsed in place, large ones on the worker thread, with the same values and the same
// errors (line and column) either way, and a worker that parses many bodies, one after another, concurrently asked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import yaml from 'js-yaml';
import { OFF_THREAD_BYTES, parseYamlBody, YamlSyntaxError } from '../../src/http/yaml-parser.js';

const large = (n: number) => ({ address: `r${n}.example.com`, credentials: Array.from({ length: 2000 }, (_, i) => ({ repository: `team-${n}/app-${i}`, vault: 'kv', secret: `s/${i}` })) });

describe('YAML bodies', () => {
  it('large bodies parse on the worker to the same value as small ones in place; many at once each get their own', async () => {
    const texts = [0, 1, 2, 3].map((n) => yaml.dump(large(n)));
    for (const text of texts) assert.ok(text.length > OFF_THREAD_BYTES);
    const values = await Promise.all(texts.map((text) => parseYamlBody(text)));
    values.forEach((value, n) => assert.deepEqual(value, large(n)));
    assert.deepEqual(await parseYamlBody('address: small.example.com\n'), { address: 'small.example.com' });
  });

  it('a syntax error says where, in place and on the worker alike', async () => {
    const bad = ': broken\n  - [\n';
    const padLines = Math.ceil(OFF_THREAD_BYTES / 10) + 1;
    const padded = `${'# padding\n'.repeat(padLines)}${bad}`;
    const where = async (text: string) => {
      const error = await parseYamlBody(text).then(() => assert.fail('parsed'), (e: unknown) => e);
      assert.ok(error instanceof YamlSyntaxError, String(error));
      return { line: error.line, reason: error.reason };
    };
    const inPlace = await where(bad);
    const offThread = await where(padded);
    assert.equal(offThread.reason, inPlace.reason);
    assert.equal(offThread.line! - inPlace.line!, padLines);
  });

  it('plain JSON-compatible scalars only (CORE schema): a date stays a string', async () => {
    const text = `when: 2024-01-01\n${'# pad\n'.repeat(Math.ceil(OFF_THREAD_BYTES / 6) + 1)}`;
    assert.deepEqual(await parseYamlBody(text), { when: '2024-01-01' });
  });
});
