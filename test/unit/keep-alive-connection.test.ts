// The shared keep-alive connection (transport/keep-alive-connection.ts, used by the tower's site connections and a
// site's tower client): a bodiless request whose connection is dropped before an answer is sent once more; a request
// with a body is not (it may have been acted on), and the drop reaches the caller.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { KeepAliveConnection } from '../../src/transport/index.js';

/** Drops the connection of the first request it gets (no answer at all), answers the others with their method and path. */
async function serverDroppingFirst(): Promise<{ server: Server; url: string; requests: () => number }> {
  let requests = 0;
  const server = createServer((request, response) => {
    requests += 1;
    request.resume();
    if (requests === 1) {
      request.socket.destroy();
      return;
    }
    request.on('end', () => response.end(`${request.method} ${request.url}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/base/`, requests: () => requests };
}

const options = { connectTimeoutMs: 5_000, keepAliveTimeoutMs: 1_000, connections: 1 };

describe('KeepAliveConnection', () => {
  const servers: Server[] = [];
  after(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

  it('sends a GET again when its connection is dropped, below the URL\'s path', async () => {
    const { server, url, requests } = await serverDroppingFirst();
    servers.push(server);
    const connection = new KeepAliveConnection(Agent, { url, ...options });
    try {
      const response = await connection.request({ method: 'GET', path: '/x?y=1' });
      assert.equal(response.statusCode, 200);
      assert.equal(await response.body.text(), 'GET /base/x?y=1');
      assert.equal(requests(), 2);
    } finally {
      await connection.destroy();
    }
  });

  it('does not send a request with a body again: the dropped connection is the caller\'s error', async () => {
    const { server, url, requests } = await serverDroppingFirst();
    servers.push(server);
    const connection = new KeepAliveConnection(Agent, { url, ...options });
    try {
      await assert.rejects(connection.request({ method: 'POST', path: '/report', body: '{}' }), (e: unknown) => {
        assert.match(String((e as { code?: string }).code), /UND_ERR_SOCKET|ECONNRESET|EPIPE/);
        return true;
      });
      assert.equal(requests(), 1);
    } finally {
      await connection.destroy();
    }
  });
});
