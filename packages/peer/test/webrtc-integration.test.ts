/**
 * The final integration with real parts: 3 Node peers whose ExpertNetwork is
 * MeshExpertNetwork over PeerMesh (real signaling server on 127.0.0.1, real
 * WebRTC through @roamhq/wrtc), with the real ledger's block producer in
 * process. They train a few dozen steps: every loss falls, every gate routes
 * to the others, set-weights txs land in blocks and ranks leave uniform.
 */

import { MeshExpertNetwork, PeerMesh } from '@peerbench/mesh';
import { generateIdentity, type Identity } from '@peerbench/protocol';
import { createSignalingServer, type SignalingServer } from '@peerbench/signaling-server';
import wrtc from '@roamhq/wrtc';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { LedgerChainClient } from '../src/ledger-chain.js';
import { Peer } from '../src/peer.js';
import { localLedger, SMALL_MODEL, skewedTask, useWasm } from './helpers.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

describe('3 peers over real WebRTC and the real signaling server, real ledger', () => {
  let server: SignalingServer;
  const meshes: PeerMesh[] = [];

  beforeAll(async () => {
    await useWasm();
    server = createSignalingServer({ host: '127.0.0.1', port: 0, shutdownGraceMs: 0 });
    await server.start();
  });

  afterAll(async () => {
    await Promise.all(meshes.map((m) => m.stop()));
    await server.stop();
  });

  it('train together: losses fall, gates route to each other, weights land, ranks move', async () => {
    const { producer, chain } = await localLedger(0.25);
    const favourites = [
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8, 9],
    ];
    const identities: Identity[] = [];
    for (let i = 0; i < 3; i++) identities.push(await generateIdentity());
    const peers: Peer[] = [];
    for (let i = 0; i < 3; i++) {
      peers.push(
        await Peer.create({
          identity: identities[i]!,
          task: await skewedTask(favourites[i]!, i + 1, 300),
          network: async (id) => {
            const mesh = new PeerMesh({
              signalingUrl: server.url,
              room: 'peer-it',
              identity: id,
              wrtc,
              WebSocket: WebSocket,
            });
            await mesh.start();
            meshes.push(mesh);
            return new MeshExpertNetwork(mesh, id.peerId);
          },
          chain: (id) => new LedgerChainClient(chain, id),
          backend: false,
          model: { ...SMALL_MODEL, topK: 2, seed: i + 1 },
          step: { batchSize: 16, kMin: 1, graceMs: 50, wireDtype: 'fp16' },
          autoRun: false,
          evalEverySteps: 0,
          pingEveryMs: 0,
        }),
      );
    }
    for (const p of peers) await p.start();
    await vi.waitFor(() => expect(meshes.every((m) => m.connectedPeers().length === 2)).toBe(true), {
      timeout: 30_000,
      interval: 50,
    });
    for (let t = 0; t < 20 && peers.some((p) => p.getSnapshot().uid === null); t++) {
      await new Promise((r) => setTimeout(r, 20));
      await producer.produceBlock();
    }
    const losses: number[][] = [[], [], []];
    const routed = [0, 0, 0];
    for (let round = 0; round < 40; round++) {
      const results = await Promise.all(peers.map((p) => p.step()));
      results.forEach((r, i) => {
        losses[i]!.push(r.loss);
        routed[i]! += r.routed.slice(1).reduce((a, b) => a + b, 0);
      });
      if (round % 8 === 7) {
        await new Promise((r) => setTimeout(r, 20));
        await producer.produceBlock();
      }
    }
    await new Promise((r) => setTimeout(r, 20));
    await producer.produceBlock();
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    for (let i = 0; i < 3; i++) {
      expect(mean(losses[i]!.slice(-8))).toBeLessThan(mean(losses[i]!.slice(0, 8)) * 0.7);
      expect(routed[i]).toBeGreaterThan(0);
      const snap = peers[i]!.getSnapshot();
      expect(snap.stats!.answersAccepted).toBeGreaterThan(0);
      expect(snap.stats!.weightTxsSubmitted).toBeGreaterThan(0);
      expect(snap.stats!.weightTxsFailed).toBe(0);
      const others = snap.peers.filter((r) => !r.isSelf);
      expect(others).toHaveLength(2);
      for (const o of others) expect(o.gateWeight).toBeGreaterThan(0.01);
      expect(peers[i]!.expertServer!.stats.backwardsApplied).toBeGreaterThan(0);
    }
    const state = chain.state();
    for (let uid = 0; uid < 3; uid++) expect(state.weights[uid]!.length).toBeGreaterThan(1);
    expect(Math.max(...state.rank) - Math.min(...state.rank)).toBeGreaterThan(1e-6);
    for (const p of peers) await p.stop();
    await producer.stop();
  });
});
