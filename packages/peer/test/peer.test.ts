import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryHub } from '@peerbench/mesh';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LedgerChainClient } from '../src/ledger-chain.js';
import { Peer } from '../src/peer.js';
import type { PeerSnapshot } from '../src/state.js';
import { FileStorage, MemoryStorage, type PeerStorage } from '../src/storage.js';
import { localLedger, SMALL_MODEL, skewedTask, useWasm } from './helpers.js';

beforeAll(useWasm);
vi.setConfig({ testTimeout: 120_000 });

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe.each([
  ['memory', async () => new MemoryStorage()],
  [
    'files',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'peer-storage-'));
      dirs.push(dir);
      return new FileStorage(join(dir, 'nested'));
    },
  ],
] as Array<[string, () => Promise<PeerStorage>]>)('PeerStorage compliance: %s', (_name, make) => {
  it('stores, returns copies, overwrites and deletes bytes', async () => {
    const s = await make();
    expect(await s.get('weights')).toBeUndefined();
    const bytes = Uint8Array.of(1, 2, 3);
    await s.set('weights', bytes);
    bytes[0] = 9;
    expect(Array.from((await s.get('weights'))!)).toEqual([1, 2, 3]);
    await s.set('weights', Uint8Array.of(4));
    expect(Array.from((await s.get('weights'))!)).toEqual([4]);
    await s.delete('weights');
    expect(await s.get('weights')).toBeUndefined();
    await expect(s.set('../escape', Uint8Array.of(1))).rejects.toThrow(/invalid storage key/);
  });
});

describe('Peer', () => {
  it('restores identity, weights, step and history from file storage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'peer-restore-'));
    dirs.push(dir);
    const task = await skewedTask([0, 1], 1, 100);
    const opts = {
      task,
      storage: new FileStorage(dir),
      backend: false as const,
      model: SMALL_MODEL,
      step: { batchSize: 8 },
      autoRun: false,
      evalEverySteps: 2,
    };
    const first = await Peer.create(opts);
    await first.start();
    for (let s = 0; s < 4; s++) await first.step();
    const weights = await first.runtime!.exportWeights();
    const snap = first.getSnapshot();
    expect(snap.lossHistory).toHaveLength(4);
    expect(snap.accuracy).not.toBeNull();
    await first.stop();
    expect(first.getSnapshot().status).toBe('stopped');

    const second = await Peer.create(opts);
    expect(second.peerId).toBe(first.peerId);
    await second.start();
    expect(second.getSnapshot().step).toBe(4);
    expect(second.getSnapshot().lossHistory).toEqual(snap.lossHistory);
    const restored = await second.runtime!.exportWeights();
    expect(restored['encoder/w0']!.data).toEqual(weights['encoder/w0']!.data);
    expect(restored['head/w1']!.data).toEqual(weights['head/w1']!.data);
    await second.stop();
  });

  it('runs its own loop: start, pause, resume, stop, publishing snapshots', async () => {
    const peer = await Peer.create({
      task: await skewedTask([3], 2, 100),
      backend: false,
      model: SMALL_MODEL,
      step: { batchSize: 8 },
    });
    const seen: PeerSnapshot[] = [];
    peer.subscribe((s) => seen.push(s));
    await peer.start();
    await vi.waitFor(() => expect(peer.getSnapshot().step).toBeGreaterThanOrEqual(3), { timeout: 30_000 });
    peer.pause();
    await new Promise((r) => setTimeout(r, 200));
    const pausedAt = peer.getSnapshot().step;
    await new Promise((r) => setTimeout(r, 200));
    expect(peer.getSnapshot().step).toBe(pausedAt);
    peer.resume();
    await vi.waitFor(() => expect(peer.getSnapshot().step).toBeGreaterThan(pausedAt), { timeout: 30_000 });
    await peer.stop();
    expect(seen.map((s) => s.status)).toEqual(
      expect.arrayContaining(['starting', 'running', 'paused', 'stopping', 'stopped']),
    );
    const last = peer.getSnapshot();
    expect(last.peers).toHaveLength(1);
    expect(last.peers[0]).toMatchObject({ isSelf: true, online: true, peerId: peer.peerId });
    expect(last.stats?.lastStepMs).not.toBeNull();
  });
});

describe('integration: 3 peers, in-memory network, real ledger in process', () => {
  it('every loss falls, every gate routes to the others, weight txs land and ranks leave uniform', async () => {
    const { producer, chain } = await localLedger(0.25);
    const hub = new InMemoryHub();
    const favourites = [
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8, 9],
    ];
    const peers: Peer[] = [];
    for (let i = 0; i < 3; i++) {
      peers.push(
        await Peer.create({
          task: await skewedTask(favourites[i]!, i + 1, 300),
          network: (id) => hub.join(id.peerId),
          chain: (id) => new LedgerChainClient(chain, id),
          backend: false,
          model: { ...SMALL_MODEL, topK: 2, seed: i + 1 },
          step: { batchSize: 16, kMin: 1, graceMs: 20 },
          autoRun: false,
          evalEverySteps: 0,
          pingEveryMs: 0,
        }),
      );
    }
    for (const p of peers) await p.start();
    // Registration txs are signed asynchronously after start(): produce until all have landed.
    for (let t = 0; t < 20 && peers.some((p) => p.getSnapshot().uid === null); t++) {
      await new Promise((r) => setTimeout(r, 20));
      await producer.produceBlock();
    }
    for (const p of peers) expect(p.getSnapshot().uid).not.toBeNull();
    const losses: number[][] = [[], [], []];
    const routedToOthers = [0, 0, 0];
    for (let round = 0; round < 48; round++) {
      const results = await Promise.all(peers.map((p) => p.step()));
      results.forEach((r, i) => {
        losses[i]!.push(r.loss);
        routedToOthers[i]! += r.routed.slice(1).reduce((a, b) => a + b, 0);
      });
      if (round % 8 === 7) {
        await new Promise((r) => setTimeout(r, 10)); // let weight txs reach the pool
        await producer.produceBlock();
      }
    }
    await new Promise((r) => setTimeout(r, 10));
    await producer.produceBlock();
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    for (let i = 0; i < 3; i++) {
      const l = losses[i]!;
      expect(mean(l.slice(-8))).toBeLessThan(mean(l.slice(0, 8)) * 0.7);
      expect(routedToOthers[i]).toBeGreaterThan(0);
      const snap = peers[i]!.getSnapshot();
      const others = snap.peers.filter((r) => !r.isSelf);
      expect(others).toHaveLength(2);
      for (const o of others) {
        expect(o.gateWeight).toBeGreaterThan(0.01);
        expect(o.online).toBe(true);
        expect(o.uid).not.toBeNull();
      }
      expect(snap.stats!.weightTxsSubmitted).toBeGreaterThan(0);
      expect(snap.stats!.weightTxsFailed).toBe(0);
      expect(snap.error).toBeNull();
      expect(snap.stats!.answersAccepted).toBeGreaterThan(0);
      expect(snap.blockHistory.length).toBeGreaterThan(3);
    }
    const state = chain.state();
    // Every row moved off pure self-weight, in steps the ledger accepted.
    for (let uid = 0; uid < 3; uid++) expect(state.weights[uid]!.length).toBeGreaterThan(1);
    const ranks = state.rank;
    expect(Math.max(...ranks) - Math.min(...ranks)).toBeGreaterThan(1e-6);
    for (const p of peers) await p.stop();
    await producer.stop();
  });
});
