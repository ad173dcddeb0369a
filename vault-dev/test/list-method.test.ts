// The LIST method adapter: ListMethodFramer rewrites LIST request lines (to GET with the marker
// header) and only those, across keep-alive requests with Content-Length and chunked bodies and
// arbitrary packet boundaries; and, end to end, LIST requests on a kept-alive raw socket reach
// vault-dev's handler, as lists even when their query says `list=false`.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ListMethodFramer } from '../src/list-method.js';
import { startVaultDev, type VaultDevInstance } from '../../test/helpers/vault-dev.js';
import { vaultClient } from './support.js';

const STREAM = [
  'POST /v1/secret/data/a HTTP/1.1\r\nHost: x\r\nContent-Length: 26\r\n\r\n{"data":{"LIST /v1/x":1}}\n',
  'LIST /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\n\r\n',
  'PUT /v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nLIST \r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n',
  'LIST /v1/secret/metadata/app?foo=bar HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n',
].join('');

const MARKER = 'marker-secret';
const EXPECTED = STREAM.replace(
  'LIST /v1/secret/metadata/ HTTP/1.1',
  `GET /v1/secret/metadata/ HTTP/1.1\r\nx-vault-dev-list: ${MARKER}`,
).replace(
  'LIST /v1/secret/metadata/app?foo=bar HTTP/1.1',
  `GET /v1/secret/metadata/app?foo=bar HTTP/1.1\r\nx-vault-dev-list: ${MARKER}`,
);

describe('ListMethodFramer', () => {
  it('rewrites LIST request lines and leaves bodies alone, whatever the packet boundaries', () => {
    const bytes = Buffer.from(STREAM, 'latin1');
    for (const size of [1, 2, 3, 7, 16, 64, bytes.length]) {
      const framer = new ListMethodFramer(MARKER);
      const out: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(framer.push(bytes.subarray(i, i + size)));
      assert.equal(Buffer.concat(out).toString('latin1'), EXPECTED, `chunk size ${size}`);
    }
  });

  it('passes through what it cannot frame', () => {
    const framer = new ListMethodFramer(MARKER);
    const garbage = 'NOT HTTP AT ALL\r\n\r\nLIST /v1/x HTTP/1.1\r\n\r\n';
    assert.equal(framer.push(Buffer.from(garbage)).toString(), garbage);
  });
});

describe('LIST over a kept-alive connection to vault-dev', () => {
  let vault: VaultDevInstance;
  const token = 'list-verb-root';

  before(async () => {
    vault = await startVaultDev({ rootToken: token });
    await vaultClient(vault.addr, token).write('secret/data/app/one', { data: { v: 1 } });
  });

  after(async () => {
    await vault?.stop();
  });

  it('answers a write followed by two LIST requests on one socket', async () => {
    const { hostname, port } = new URL(vault.addr);
    const socket = net.connect(Number(port), hostname);
    const body = '{"data":{"v":2}}';
    const request = [
      `POST /v1/secret/data/app/two HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      `LIST /v1/secret/metadata/app HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\n\r\n`,
      `LIST /v1/secret/metadata/app HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${token}\r\nConnection: close\r\n\r\n`,
    ].join('');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => socket.write(request));
      socket.once('end', resolve);
      socket.once('error', reject);
    });
    const statuses = [...received.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '200', '200']);
    const lists = [...received.matchAll(/"keys":(\[[^\]]*\])/g)].map((m) => JSON.parse(m[1]!) as string[]);
    assert.deepEqual(lists, [['one', 'two'], ['one', 'two']]);
  });
});
