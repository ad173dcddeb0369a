// A free TCP port on loopback, for servers we cannot ask to listen on port 0 (docker-registry reads its port
// from a config file). The OS picks the port, so parallel test files do not collide.
import { createServer } from 'node:net';

/** A port that was free on `host` a moment ago: bind port 0, read the port the OS chose, release it. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    // Not unref'd: at the start of a test file this listener can be the only thing the event loop waits on, and an
    // unref'd one lets the loop end before its close callback resolves the port (node:test then cancels the file).
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('no TCP address for a loopback listener'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
