/**
 * Issue 17's first target, end to end: a 3-node NATS cluster (JetStream, R3
 * streams), 3 clustered signaling instances, 12 Node peers (packages/mesh's
 * PeerMesh over real WebRTC, @roamhq/wrtc) in 4 rooms. Peer k joins instance
 * k % 3 and room k % 4, so every room of 3 has one member on each instance and
 * all of its signaling crosses NATS. Every pair in a room gets an open WebRTC
 * link that carries RPC both ways, no link crosses rooms, and the
 * registration tx each peer sends over its own signaling socket lands in the
 * one chain that every instance serves block for block.
 *
 * The clustered instances come from the signaling server's test fixtures
 * (`@peerbench/signaling-server/test-cluster`, a dev dependency).
 */
import { createRegisterTx, genesisHash, solveRegistrationWork } from '@peerbench/ledger';
import { type NatsCluster, startNats } from '@peerbench/ledger/nats-servers';
import { generateIdentity } from '@peerbench/protocol';
import {
  blockHashAt,
  clusterDir,
  getJson,
  type Instance,
  instanceArgs,
  startInstance,
} from '@peerbench/signaling-server/test-cluster';
import wrtc from '@roamhq/wrtc';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import WebSocket from 'ws';
import { PeerMesh } from '../src/peer-mesh.js';

const WS = WebSocket;
const INSTANCES = 3;
const PEERS = 12;
const ROOMS = 4;
const WAIT = { timeout: 25_000, interval: 50 };
const PING_TIMEOUT_MS = 5_000;

const instanceOf = (k: number) => k % INSTANCES;
const roomOf = (k: number) => k % ROOMS;

describe('3 clustered instances on a 3-node NATS cluster, 12 WebRTC peers in 4 rooms', () => {
  it('links every pair of a room over WebRTC and puts every peer’s tx in the one chain all instances serve', {
    timeout: 60_000,
  }, async () => {
    const nats: NatsCluster = await startNats({ size: 3 });
    const dir = await clusterDir(INSTANCES, INSTANCES);
    const instances: Instance[] = [];
    const peers: PeerMesh[] = [];
    onTestFinished(async () => {
      await Promise.all(peers.map((p) => p.stop().catch(() => undefined)));
      await Promise.all(instances.map((i) => i.stop().catch(() => undefined)));
      await nats.stop();
      dir.remove();
    });

    for (let i = 0; i < INSTANCES; i++) instances.push(await startInstance(instanceArgs(dir, i, nats.urls)));
    await vi.waitFor(() => {
      expect(instances.map((i) => i.backend.status().role).sort()).toEqual([
        'follower',
        'follower',
        'producer',
      ]);
    }, WAIT);

    // 12 peers, joined all at once; the clock runs from the first start to the last link open.
    const identities = await Promise.all(Array.from({ length: PEERS }, () => generateIdentity()));
    for (let k = 0; k < PEERS; k++) {
      const mesh = new PeerMesh({
        signalingUrl: instances[instanceOf(k)]!.server.url,
        room: `room-${roomOf(k)}`,
        identity: identities[k]!,
        wrtc,
        WebSocket: WS,
        reconnectInitialDelayMs: 100,
        reconnectMaxDelayMs: 1000,
      });
      // Answers with the responder's index: proves which peer is at the other end.
      mesh.handle('who', async () => [{ shape: [1], data: new Float32Array([k]) }]);
      peers.push(mesh);
    }
    const startedAt = Date.now();
    await Promise.all(peers.map((p) => p.start()));
    const mates = (k: number) =>
      peers
        .filter((_, j) => j !== k && roomOf(j) === roomOf(k))
        .map((p) => p.peerId)
        .sort();

    // Every pair of a room connected (both sides), and nothing outside the room.
    await vi.waitFor(() => {
      for (let k = 0; k < PEERS; k++) {
        const links = peers[k]!.links();
        expect(links.map((l) => l.peerId).sort(), `peer ${k}'s links`).toEqual(mates(k));
        expect(
          links.every((l) => l.state === 'connected'),
          `peer ${k}: ${links.map((l) => l.state)}`,
        ).toBe(true);
        expect(peers[k]!.connectedPeers().sort()).toEqual(mates(k));
      }
    }, WAIT);
    const fullMeshMs = Date.now() - startedAt;
    for (let k = 0; k < PEERS; k++) {
      // Presence crossed the instances: each peer sees exactly its 2 room-mates, each on another instance.
      expect(
        peers[k]!.signaling.peers()
          .map((p) => p.peerId)
          .sort(),
      ).toEqual(mates(k));
    }

    // RPC crosses every link, both ways: a ping and a `who` that names the responder.
    const calls: Promise<void>[] = [];
    for (let k = 0; k < PEERS; k++) {
      for (let j = 0; j < PEERS; j++) {
        if (j === k || roomOf(j) !== roomOf(k)) continue;
        const [from, to] = [peers[k]!, peers[j]!];
        calls.push(
          from.ping(to.peerId, PING_TIMEOUT_MS).then((rtt) => expect(rtt).toBeGreaterThanOrEqual(0)),
          from
            .request(to.peerId, 'who', [], { timeoutMs: PING_TIMEOUT_MS })
            .then(([t]) => expect(Array.from(t!.data)).toEqual([j])),
        );
      }
    }
    await Promise.all(calls);
    expect(calls.length).toBe(2 * ROOMS * 3 * 2);
    // A peer outside the room is not reachable from it.
    await expect(peers[0]!.ping(peers[1]!.peerId, PING_TIMEOUT_MS)).rejects.toMatchObject({
      code: 'peer-gone',
    });

    // Each peer registers over its own signaling socket (the mesh's ledger channel).
    const chainHash = genesisHash(dir.genesis);
    const results = await Promise.all(
      peers.map(async (p, k) => {
        const id = identities[k]!;
        const work = await solveRegistrationWork(
          chainHash,
          id.publicKey,
          dir.genesis.registrationWorkBits ?? 0,
        );
        return p.signaling.sendLedgerTx(await createRegisterTx(id, chainHash, work));
      }),
    );
    expect(results).toEqual(peers.map(() => ({ ok: true })));

    // All 12 are in blocks on every instance.
    const all = peers.map((p) => p.peerId).sort();
    let includedBy = 0;
    await vi.waitFor(async () => {
      for (const i of instances) {
        const state = await getJson<{ peers: string[]; height: number }>(`${i.server.httpUrl}/ledger/state`);
        expect(state.peers.filter((id) => all.includes(id)).sort()).toEqual(all);
        includedBy = Math.max(includedBy, state.height);
      }
    }, WAIT);

    // One chain: once every instance's head is at or past a height whose state
    // holds all 12, all serve the same block there and at the common head.
    const heads = await vi.waitFor(async () => {
      const hs = await Promise.all(
        instances.map((i) => getJson<{ height: number; hash: string }>(`${i.server.httpUrl}/ledger/head`)),
      );
      expect(Math.min(...hs.map((h) => h.height))).toBeGreaterThanOrEqual(includedBy);
      return hs;
    }, WAIT);
    const common = Math.min(...heads.map((h) => h.height));
    for (const height of [includedBy, common]) {
      const hashes = await Promise.all(instances.map((i) => blockHashAt(i.server.httpUrl, height)));
      expect(new Set(hashes).size, `block ${height}`).toBe(1);
    }
    const lowest = heads.find((h) => h.height === common)!;
    expect(lowest.hash).toBe(await blockHashAt(instances[0]!.server.httpUrl, common));

    console.log(
      `[clustered-mesh] ${PEERS} peers on ${INSTANCES} instances (3-node NATS), ${ROOMS} rooms: full mesh (${ROOMS * 3} WebRTC links) ${fullMeshMs} ms after start; ${PEERS} registrations in blocks by height ${includedBy}; common head ${common}, same hash on all instances`,
    );
  });
});
