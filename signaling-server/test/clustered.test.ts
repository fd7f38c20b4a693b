/**
 * Three signaling server instances in clustered mode (--nats) on one real
 * nats-server (JetStream, no mocks), opened from CLI flags through
 * ledger-backend.ts as `pnpm start -- --nats …` opens them: two whose keys the
 * genesis lists, one observer. A tx sent to one instance (HTTP and WebSocket)
 * lands in the one chain every instance serves; a RemoteChain (the browser's
 * verification code) on another instance follows it; /health and /metrics
 * tell each instance's role, lag and NATS state.
 */
import { createRegisterTx, genesisHash, RemoteChain, solveRegistrationWork } from '@peerbench/ledger';
import { type NatsCluster, startNats } from '@peerbench/ledger/nats-servers';
import { generateIdentity } from '@peerbench/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ledgerSettingsFromEnv } from '../src/env.js';
import { openLedgerBackend } from '../src/ledger-backend.js';
import { createSignalingServer } from '../src/server.js';
import {
  blockHashAt,
  type ClusterDir,
  clusterDir,
  getJson,
  type Health,
  type Instance,
  instanceArgs,
  startInstance,
  wsLedgerTransport,
} from './cluster-helpers.js';
import { TestClient } from './helpers.js';

const WAIT = { timeout: 20_000, interval: 50 };

let nats: NatsCluster | undefined;
let dir: ClusterDir | undefined;
const instances: Instance[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  nats = await startNats({ size: 1 });
  dir = await clusterDir(3, 2);
  // i0 and i1 may produce (SQLite in their data dirs); i2 is an observer kept in memory.
  instances.push(await startInstance(instanceArgs(dir, 0, nats.urls)));
  instances.push(await startInstance(instanceArgs(dir, 1, nats.urls)));
  const observerArgs = instanceArgs(dir, 2, nats.urls);
  observerArgs.splice(observerArgs.indexOf('--data-dir'), 2, '--memory-ledger', '--key-file', dir.keyFile(2));
  instances.push(await startInstance(observerArgs));
}, 60_000);

afterAll(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await Promise.all(instances.splice(0).map((i) => i.stop().catch(() => undefined)));
  await nats?.stop();
  dir?.remove();
}, 30_000);

const health = (i: Instance) => getJson<Health>(`${i.server.httpUrl}/health`);

describe('clustered mode flags', () => {
  it('needs a genesis and an own data dir; its flags without --nats are refused; no flag stays embedded', () => {
    expect(ledgerSettingsFromEnv([], {}).cluster).toBeNull();
    expect(() => ledgerSettingsFromEnv(['--nats', 'nats://127.0.0.1:4222'], {})).toThrow(/--genesis/);
    expect(() =>
      ledgerSettingsFromEnv(['--nats', 'nats://127.0.0.1:4222', '--genesis', 'g.json'], {}),
    ).toThrow(/--data-dir/);
    expect(() => ledgerSettingsFromEnv(['--genesis', 'g.json'], {})).toThrow(/--nats/);
    expect(() =>
      ledgerSettingsFromEnv(['--nats', 'http://x y', '--genesis', 'g.json', '--memory-ledger'], {}),
    ).toThrow(/not a NATS URL/);
    const s = ledgerSettingsFromEnv(['--genesis', '/g.json', '--data-dir', '/d'], {
      PEERBENCH_NATS_URL: 'nats://a:4222,nats://b:4222,nats://c:4222',
    });
    expect(s.cluster).toMatchObject({
      natsUrls: ['nats://a:4222', 'nats://b:4222', 'nats://c:4222'],
      replicas: 3,
    });
    expect(s.keyFile).toBe('/d/producer.key');
  });
});

describe('the embedded default', () => {
  it('mounts the embedded producer (no NATS) and says so on /health and /metrics', async () => {
    const backend = await openLedgerBackend(
      ledgerSettingsFromEnv(['--memory-ledger', '--block-interval-ms', '100'], {}),
    );
    const server = createSignalingServer({ port: 0, ledger: backend.hook });
    const bare = createSignalingServer({ port: 0 });
    await server.start();
    await bare.start();
    try {
      expect(backend.mode).toBe('embedded');
      await vi.waitFor(async () => {
        const h = await getJson<Health>(`${server.httpUrl}/health`);
        expect(h.ledger).toMatchObject({ role: 'embedded', lagBlocks: 0, natsConnected: null });
        expect(h.ledger?.height).toBeGreaterThanOrEqual(1);
      }, WAIT);
      const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
      expect(metrics).toContain('peerbench_signaling_ledger_role{role="embedded"} 1');
      expect(metrics).not.toContain('nats_connected');
      expect((await getJson<Health>(`${bare.httpUrl}/health`)).ledger).toBeNull();
      expect(await (await fetch(`${bare.httpUrl}/metrics`)).text()).not.toContain('ledger_role');
    } finally {
      await Promise.all([server.stop(), bare.stop()]);
      await backend.stop();
    }
  });
});

describe('three clustered signaling servers on one JetStream server', () => {
  it('report their roles: one producer, one follower, one observer, all connected', async () => {
    await vi.waitFor(async () => {
      const hs = await Promise.all(instances.map(health));
      expect(hs.map((h) => h.ledger?.role).sort()).toEqual(['follower', 'observer', 'producer']);
      expect(hs[2]?.ledger?.role).toBe('observer');
      for (const h of hs) {
        expect(h.ok).toBe(true);
        expect(h.ledger?.natsConnected).toBe(true);
        expect(h.ledger?.height).toBeGreaterThanOrEqual(1);
        expect(h.ledger?.lagBlocks).toBeGreaterThanOrEqual(0);
      }
    }, WAIT);
    const producer = instances.find((i) => i.backend.status().role === 'producer');
    const metrics = await (await fetch(`${producer?.server.httpUrl}/metrics`)).text();
    expect(metrics).toContain('peerbench_signaling_ledger_role{role="producer"} 1');
    expect(metrics).toContain('peerbench_signaling_ledger_role{role="embedded"} 0');
    expect(metrics).toMatch(/^peerbench_signaling_ledger_height \d+$/m);
    expect(metrics).toMatch(/^peerbench_signaling_ledger_lag_blocks -?\d+$/m);
    expect(metrics).toContain('peerbench_signaling_ledger_nats_connected 1');
  });

  it('a tx sent to one instance over HTTP and over WebSocket lands in the chain every instance serves', async () => {
    const [a, b, c] = instances as [Instance, Instance, Instance];
    const { genesis } = dir as ClusterDir;
    const chainHash = genesisHash(genesis);
    // The observer takes txs too: they go to the shared tx stream, not to a local producer.
    const viaHttp = await generateIdentity();
    const res = await fetch(`${c.server.httpUrl}/ledger/tx`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(await createRegisterTx(viaHttp, chainHash, await work(viaHttp.publicKey))),
    });
    expect(await res.json()).toEqual({ ok: true });

    const { client: member } = await TestClient.joined(a.server.url, 'cluster');
    clients.push(member);
    const viaWs = await generateIdentity();
    member.send({
      type: 'ledger-tx',
      requestId: 'ws-1',
      tx: await createRegisterTx(viaWs, chainHash, await work(viaWs.publicKey)),
    });
    expect(await member.next((m) => m.type === 'ledger-tx-result', 10_000)).toEqual({
      type: 'ledger-tx-result',
      requestId: 'ws-1',
      ok: true,
    });

    // A page on instance b: RemoteChain verifies every block it is sent.
    const { client: page } = await TestClient.joined(b.server.url, 'cluster');
    clients.push(page);
    // One room across the two instances (the CLI wiring opened a room bridge for each).
    await member.next((m) => m.type === 'peer-joined' && m.peer.peerId === page.peerId);
    const invalid: string[] = [];
    const remote = new RemoteChain({
      transport: wsLedgerTransport(page),
      genesis,
      onInvalidBlock: (e) => invalid.push(`${e.height}: ${e.code}`),
    });
    remote.start();
    try {
      // Both registrations are in every instance's state, and in the page's verified state.
      let includedBy = 0;
      await vi.waitFor(async () => {
        for (const i of instances) {
          const state = await getJson<{ peers: string[]; height: number }>(
            `${i.server.httpUrl}/ledger/state`,
          );
          expect(state.peers).toEqual(expect.arrayContaining([viaHttp.peerId, viaWs.peerId]));
          includedBy = Math.max(includedBy, state.height);
        }
        expect(remote.state().peers).toEqual(expect.arrayContaining([viaHttp.peerId, viaWs.peerId]));
      }, WAIT);
      // One chain: at a height every instance has reached, all serve the same block.
      const heads = await Promise.all(
        instances.map((i) => getJson<{ height: number; hash: string }>(`${i.server.httpUrl}/ledger/head`)),
      );
      const common = Math.min(...heads.map((h) => h.height), remote.height);
      expect(common).toBeGreaterThanOrEqual(1);
      const hashes = await Promise.all(instances.map((i) => blockHashAt(i.server.httpUrl, common)));
      expect(new Set(hashes).size).toBe(1);
      // The lowest head is the common height: its hash is the one every instance serves there.
      const lowest = heads.find((h) => h.height === common);
      if (lowest) expect(lowest.hash).toBe(hashes[0]);
      // And the page keeps following blocks produced after it caught up.
      const seen = remote.height;
      await vi.waitFor(() => expect(remote.height).toBeGreaterThan(seen + 2), WAIT);
      expect(invalid).toEqual([]);
      expect(includedBy).toBeGreaterThanOrEqual(1);
    } finally {
      remote.stop();
    }
  });
});

/** Registration work for this genesis' (test) difficulty. */
function work(publicKey: Uint8Array): Promise<number> {
  const { genesis } = dir as ClusterDir;
  return solveRegistrationWork(genesisHash(genesis), publicKey, genesis.registrationWorkBits ?? 0);
}
