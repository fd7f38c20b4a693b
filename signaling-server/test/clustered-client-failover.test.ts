/**
 * A peer's side of a failover (issue 17, item 4): two clustered signaling
 * instances on one nats-server, a packages/mesh SignalingClient given both
 * URLs and joined on the first, a RemoteChain (the browser's verification
 * code) following the chain through it. The first instance (the producer)
 * goes away; the client is back in its room on the second within 10 s, its
 * presence is right on both sides, and its chain goes on from the block after
 * the last one it received (no replay from genesis, no gap, nothing invalid)
 * through blocks of the new producer.
 *
 * The mesh client is imported by path: packages/mesh depends on this package
 * (dev), not the other way round.
 */
import { type LedgerTransport, RemoteChain } from '@peerbench/ledger';
import { type NatsCluster, startNats } from '@peerbench/ledger/nats-servers';
import { generateIdentity } from '@peerbench/protocol';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import WebSocket from 'ws';
import { signalingLedgerTransport } from '../../packages/mesh/src/ledger-channel.js';
import { SignalingClient } from '../../packages/mesh/src/signaling-client.js';
import type { WebSocketConstructor } from '../../packages/mesh/src/websocket.js';
import { clusterDir, type Instance, instanceArgs, LEASE_TTL_MS, startInstance } from './cluster-helpers.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const WAIT = { timeout: 30_000, interval: 50 };
/** Issue 17's target: the peers of a dead instance are back within this. */
const BACK_WITHIN_MS = 10_000;
const ROOM = 'client-failover';

describe('a client given two clustered instances', () => {
  it('rejoins on the second when the first stops, and its chain resumes after its last block', {
    timeout: 90_000,
  }, async () => {
    const nats: NatsCluster = await startNats({ size: 1 });
    const dir = await clusterDir(2, 2);
    const instances: Instance[] = [];
    const clients: SignalingClient[] = [];
    let remote: RemoteChain | undefined;
    onTestFinished(async () => {
      remote?.stop();
      for (const c of clients) await c.stop();
      for (const i of instances) await i.stop().catch(() => undefined);
      await nats.stop();
      dir.remove();
    });

    // Instance A starts alone and takes the lease; B follows.
    const a = await startInstance(instanceArgs(dir, 0, nats.urls));
    instances.push(a);
    await vi.waitFor(() => {
      expect(a.backend.status()).toMatchObject({ role: 'producer' });
      expect(a.backend.status().height).toBeGreaterThanOrEqual(1);
    }, WAIT);
    const b = await startInstance(instanceArgs(dir, 1, nats.urls));
    instances.push(b);
    expect(b.backend.status().role).toBe('follower');

    const makeClient = async (url: string[]) => {
      const c = new SignalingClient({
        url,
        room: ROOM,
        identity: await generateIdentity(),
        WebSocket: WS,
        reconnectInitialDelayMs: 100,
        reconnectMaxDelayMs: 2000,
      });
      clients.push(c);
      return c;
    };
    // A witness on B only; the client under test on [A, B], so it joins A.
    const witness = await makeClient([b.server.url]);
    await witness.start();
    const client = await makeClient([a.server.url, b.server.url]);
    await client.start();
    expect(client.serverUrl).toBe(a.server.url);
    await vi.waitFor(() => {
      expect(client.peers().map((p) => p.peerId)).toEqual([witness.peerId]);
      expect(witness.peers().map((p) => p.peerId)).toEqual([client.peerId]);
    }, WAIT);

    // Which server delivered which block height to the RemoteChain.
    const delivered: Array<{ height: number; server: string }> = [];
    const ws = signalingLedgerTransport(client);
    const transport: LedgerTransport = {
      sendTx: ws.sendTx,
      subscribe: (from, onBlock) =>
        ws.subscribe(from, (block) => {
          const h = (block as { height?: unknown }).height;
          if (typeof h === 'number') delivered.push({ height: h, server: client.serverUrl });
          onBlock(block);
        }),
    };
    const invalid: string[] = [];
    remote = new RemoteChain({
      transport,
      genesis: dir.genesis,
      onInvalidBlock: (e) => invalid.push(`${e.height}: ${e.code}`),
    });
    remote.start();
    const r = remote;
    await vi.waitFor(() => expect(r.height).toBeGreaterThanOrEqual(3), WAIT);

    const welcomes: string[] = [];
    client.on('welcome', () => welcomes.push(client.serverUrl));
    const stoppedAt = Date.now();
    await a.stop();
    await vi.waitFor(
      () => {
        expect(client.state).toBe('connected');
        expect(client.serverUrl).toBe(b.server.url);
      },
      { timeout: BACK_WITHIN_MS, interval: 20 },
    );
    const backMs = Date.now() - stoppedAt;
    expect(welcomes).toEqual([b.server.url]);

    // Presence: each sees the other once, on the same instance now.
    await vi.waitFor(() => {
      expect(client.peers().map((p) => p.peerId)).toEqual([witness.peerId]);
      expect(witness.peers().map((p) => p.peerId)).toEqual([client.peerId]);
    }, WAIT);

    // B takes the lease once it expires and produces; the client's chain follows.
    const lastFromA = Math.max(...delivered.filter((d) => d.server === a.server.url).map((d) => d.height));
    await vi.waitFor(() => {
      expect(b.backend.status().role).toBe('producer');
      expect(r.height).toBeGreaterThan(lastFromA + 3);
    }, WAIT);
    await r.idle();
    const fromB = delivered.filter((d) => d.server === b.server.url).map((d) => d.height);
    // Resumed right after the last block received from A: nothing replayed, nothing skipped.
    expect(fromB[0]).toBe(lastFromA + 1);
    expect(fromB).toEqual(fromB.map((_, i) => lastFromA + 1 + i));
    expect(invalid).toEqual([]);
    expect(b.backend.status().height).toBeGreaterThanOrEqual(r.height);
    console.log(
      `[client-failover] client rejoined on instance B ${backMs} ms after instance A stopped; chain resumed at height ${lastFromA + 1} (lease TTL ${LEASE_TTL_MS} ms)`,
    );
  });
});
