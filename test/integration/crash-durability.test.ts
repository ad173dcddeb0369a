// Crash durability of the config API: several writers POST registries to a Berth process, which is killed with
// SIGKILL after a random number of acknowledged writes, with writes in flight, and restarted on the same data dir.
// Every write answered 2xx must be there with its exact body and ETag; writes cut off may be there, but whole.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { startBerth, type BerthProcess } from '../helpers/berth.js';
import { Api } from '../helpers/api.js';
import { assertMatchesContract } from '../helpers/contract.js';
import { createCertificateAuthority } from '../helpers/tls.js';
import { seededRandom } from '../helpers/seeded-random.js';

const LIST = '/v1/config/image-registry/remote-registries';
const STATE = '/v1/state/image-registry/remote-registries';
/** Kills (and restarts) in the test; each after a random number of acknowledged writes in this range. */
const KILLS = 3;
const ACKS_BEFORE_KILL = { min: 60, max: 140 };
/** Writers running at once, so several writes are in flight whenever the kill comes. */
const WRITERS = 8;

interface Registry {
  address: string;
  'override-address'?: string;
  'ca-cert'?: string;
  credentials?: { repository: string; vault: string; secret: string }[];
}


const dataDir = mkdtempSync(join(tmpdir(), 'berth-crash-'));
const adminToken = `crash-admin-${Math.random().toString(36).slice(2)}-token`;
let berth: BerthProcess | undefined;

after(async () => {
  if (berth) await berth.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('crash durability of the config API', () => {
  it('after each SIGKILL, every write answered 2xx is there with its exact body and ETag', async (t) => {
    const seed = Number(process.env.BERTH_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    t.diagnostic(`seed ${seed} (rerun with BERTH_CRASH_SEED=${seed})`);
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const ca = createCertificateAuthority('Crash Test CA');
    const caCert = ca.certPem;
    rmSync(ca.dir, { recursive: true, force: true });

    let made = 0;
    /** A registry unlike the others: some fields or none, a few credentials, now and then a real CA certificate. */
    const newRegistry = (kill: number): Registry => {
      const n = ++made;
      const registry: Registry = { address: `r${n}-k${kill}.crash.example.com:${1000 + (n % 60000)}` };
      if (random() < 0.5) registry['override-address'] = `mirror-${n}.example.com`;
      if (random() < 0.15) registry['ca-cert'] = caCert;
      const credentials = Math.floor(random() * 4);
      if (credentials > 0) {
        registry.credentials = Array.from({ length: credentials }, (_, i) => ({
          repository: i === 0 ? '*' : `team-${n}/app-${i}`,
          vault: pick(['kv', 'secret', 'edge-kv']),
          secret: `registries/r${n}/c${i}`,
        }));
      }
      return registry;
    };

    /** Answered 2xx: must survive every crash exactly. */
    const acknowledged = new Map<string, { body: Registry; etag: string }>();
    /** Cut off by a kill: may or may not have been written; found after the restart, it must then stay as it was. */
    const cutOff = new Map<string, Registry>();
    /** Cut off and found missing after the restart: must never appear later. */
    const lost = new Set<string>();
    const unexpected: string[] = [];

    berth = await startBerth({ dataDir, adminToken, env: { BERTH_LOG_LEVEL: 'warn' } });
    for (let kill = 1; kill <= KILLS; kill++) {
      const running: BerthProcess = berth;
      const killAfter = ACKS_BEFORE_KILL.min + Math.floor(random() * (ACKS_BEFORE_KILL.max - ACKS_BEFORE_KILL.min + 1));
      let acks = 0;
      let killed = false;
      let inFlightAtKill = 0;
      const inFlight = new Set<string>();

      const writer = async (): Promise<void> => {
        while (!killed) {
          const registry = newRegistry(kill);
          const asYaml = random() < 0.5;
          inFlight.add(registry.address);
          let res: Response;
          try {
            res = await fetch(`${running.url}${LIST}`, {
              method: 'POST',
              headers: { authorization: `Bearer ${adminToken}`, 'content-type': asYaml ? 'application/yaml' : 'application/json' },
              body: asYaml ? yaml.dump(registry) : JSON.stringify(registry),
            });
            await res.arrayBuffer();
          } catch {
            // The connection died with the process: the write may or may not have committed.
            cutOff.set(registry.address, registry);
            return;
          } finally {
            inFlight.delete(registry.address);
          }
          if (res.status !== 201) {
            unexpected.push(`POST ${registry.address}: ${res.status}`);
            continue;
          }
          acknowledged.set(registry.address, { body: registry, etag: res.headers.get('etag') ?? '' });
          if (++acks >= killAfter && !killed) {
            killed = true;
            inFlightAtKill = inFlight.size;
            running.process.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: WRITERS }, writer));
      await running.kill();
      assert.deepEqual(unexpected, []);
      // Every other writer was waiting for an answer when the kill came.
      assert.equal(inFlightAtKill, WRITERS - 1, 'writes in flight at the kill');
      t.diagnostic(`kill ${kill}: after ${acks} acknowledged writes this round (${acknowledged.size} in all), ${inFlightAtKill} in flight`);

      berth = await startBerth({ dataDir, adminToken, env: { BERTH_LOG_LEVEL: 'warn' } });
      const api = new Api(berth.url, adminToken, assertMatchesContract);

      for (const [address, { body, etag }] of acknowledged) {
        const got = await api.get(`${LIST}/${address}`);
        assert.equal(got.status, 200, `acknowledged ${address} is missing after kill ${kill}`);
        assert.deepEqual(got.body, body, `acknowledged ${address} changed after kill ${kill}`);
        assert.equal(got.headers.get('etag'), etag, `the ETag of ${address} changed after kill ${kill}`);
      }

      const list = (await api.get(LIST)).body as Registry[];
      for (const entry of list) {
        const known = acknowledged.get(entry.address)?.body ?? cutOff.get(entry.address);
        assert.ok(known, `${entry.address} is in the list but was never sent`);
        assert.ok(!lost.has(entry.address), `${entry.address} was missing after an earlier restart and is back`);
        assert.deepEqual(entry, known, `${entry.address} is not whole`);
      }
      const listed = new Set(list.map((e) => e.address));
      for (const address of cutOff.keys()) if (!listed.has(address)) lost.add(address);
      const found = [...cutOff.keys()].filter((a) => listed.has(a)).length;
      assert.equal(list.length, acknowledged.size + found);
      t.diagnostic(`restart ${kill}: all ${acknowledged.size} acknowledged writes intact; of ${cutOff.size} cut off so far, ${found} written whole, ${lost.size} not written`);

      // The state agrees: each acknowledged registry's revision is the one its ETag named.
      const states = (await api.get(STATE)).body as { address: string; revision: number }[];
      for (const state of states) {
        const ack = acknowledged.get(state.address);
        if (ack) assert.equal(`"${state.revision}"`, ack.etag, `state revision of ${state.address}`);
      }
    }

    // Still writable after the last crash, at a revision above all that came before.
    const api = new Api(berth.url, adminToken, assertMatchesContract);
    const last = await api.post(LIST, { address: 'after-the-crashes.example.com' });
    assert.equal(last.status, 201);
    const highest = Math.max(...[...acknowledged.values()].map((a) => Number(a.etag.replace(/"/g, ''))));
    assert.ok(Number(last.headers.get('etag')!.replace(/"/g, '')) > highest);
    assert.ok(acknowledged.size >= KILLS * ACKS_BEFORE_KILL.min);
    assert.equal(await berth.stop(), 0);
    berth = undefined;
  });
});
