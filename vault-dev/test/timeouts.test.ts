// Every connection is answered or closed in bounded time, over raw sockets: a request head that
// never finishes (nothing sent, a cut request line, headers without their blank line, a LIST cut
// short, blank lines only) is closed after Vault's 10 s read-header timeout and not before; the
// deadline counts from the first byte, so a trickle does not extend it; a body that stops arriving
// is closed after the read timeout; a head that arrives slowly but in time is answered.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startVaultDev, type VaultDevInstance } from '../../test/helpers/vault-dev.js';
import { exchange, httpRequest } from './raw-socket.js';

/** Only reached if a connection hangs; the server's own deadlines are 10 s and below. */
const HANG_LIMIT_MS = 60_000;
/** Node's timers may fire a little early; nothing closes these connections this much before 10 s. */
const READ_HEADER_TIMEOUT_FLOOR_MS = 9_500;

// Concurrent: the 10 s wait of the first test overlaps the others.
describe('vault-dev connection deadlines', { concurrency: true }, () => {
  let defaults: VaultDevInstance;
  let short: VaultDevInstance;

  before(async () => {
    [defaults, short] = await Promise.all([
      startVaultDev({ rootToken: 'deadlines-root' }),
      startVaultDev({ rootToken: 'deadlines-root', args: ['--http-read-header-timeout=1s', '--http-read-timeout=2s'] }),
    ]);
  });

  after(async () => {
    await Promise.all([defaults?.stop(), short?.stop()]);
  });

  it('closes every unfinished head after the default 10 s read-header timeout, not before', async (t) => {
    const unfinished: Array<[string, string[]]> = [
      ['nothing sent', []],
      ['a cut request line', ['GET /v1/sys/he']],
      ['a cut LIST method', ['LIS']],
      ['headers without the blank line', ['GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n']],
      ['a LIST head cut short', ['LIST /v1/secret/metadata/ HTTP/1.1\r\nX-Vault-Token: deadlines-root\r\n']],
      ['blank lines only', ['\r\n', '\r\n']],
    ];
    // All at once: the wait is paid once.
    const outcomes = await Promise.all(
      unfinished.map(([, pieces]) =>
        exchange(defaults.addr, { pieces, pauseMs: 500, untilClosed: true, limitMs: HANG_LIMIT_MS }),
      ),
    );
    for (const [i, [what]] of unfinished.entries()) {
      const outcome = outcomes[i]!;
      t.diagnostic(`${what}: closed after ${outcome.elapsedMs} ms`);
      assert.equal(outcome.hung, false, what);
      assert.equal(outcome.closed, true, what);
      assert.equal(outcome.status, undefined, `${what}: no answer for a request never received`);
      assert.ok(outcome.elapsedMs >= READ_HEADER_TIMEOUT_FLOOR_MS, `${what}: closed after ${outcome.elapsedMs} ms`);
    }
  });

  it('answers a head that arrives slowly but within the timeout', async () => {
    const request = httpRequest('GET', '/v1/sys/health').toString('latin1');
    const pieces = [request.slice(0, 8), request.slice(8, 20), request.slice(20, 30), request.slice(30)];
    const outcome = await exchange(defaults.addr, { pieces, pauseMs: 300, limitMs: HANG_LIMIT_MS });
    assert.equal(outcome.status, 200);
  });

  it('counts the head deadline from the first byte: a trickle does not extend it', async () => {
    const trickle = 'GET /v1/sys/health HTTP/1.1\r\n' + 'X-Slow: x\r\n'.repeat(40);
    const pieces = trickle.match(/.{1,12}/gs)!;
    const outcome = await exchange(short.addr, { pieces, pauseMs: 250, untilClosed: true, limitMs: HANG_LIMIT_MS });
    assert.equal(outcome.closed, true);
    assert.equal(outcome.status, undefined);
    // The trickle would have gone on for pieces × 250 ms; the 1 s deadline ended it long before.
    assert.ok(outcome.elapsedMs < pieces.length * 250, `closed after ${outcome.elapsedMs} ms`);
  });

  it('closes a request whose body stops arriving, after the read timeout', async () => {
    const cut = [
      httpRequest('POST', '/v1/secret/data/x', { headers: [['Content-Length', '100']], body: '{"data":' }),
      httpRequest('POST', '/v1/secret/data/x', { headers: [['Transfer-Encoding', 'chunked']], body: '8\r\n{"data":\r\n' }),
    ];
    const outcomes = await Promise.all(
      cut.map((bytes) => exchange(short.addr, { pieces: [bytes], untilClosed: true, limitMs: HANG_LIMIT_MS })),
    );
    for (const outcome of outcomes) {
      assert.equal(outcome.hung, false);
      assert.equal(outcome.closed, true);
      assert.equal(outcome.status, undefined);
      assert.ok(outcome.elapsedMs >= 1_900, `closed after ${outcome.elapsedMs} ms`);
    }
  });

  it('closes a kept-alive connection whose next head never finishes', async () => {
    const first = httpRequest('GET', '/v1/sys/health', { keepAlive: true });
    const outcome = await exchange(short.addr, {
      pieces: [first, 'GET /v1/sys/hea'],
      pauseMs: 100,
      untilClosed: true,
      limitMs: HANG_LIMIT_MS,
    });
    assert.equal(outcome.status, 200, 'the first request is answered');
    assert.equal(outcome.closed, true);
    assert.equal(outcome.hung, false);
  });
});
