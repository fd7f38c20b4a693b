/**
 * Issue 14 in the runtime: slots that change hands (slot-handover.ts), slots
 * that follow the links, and Peers running the neighbour policy over the
 * in-memory hub's bounded neighbourhoods with the real ledger in process.
 */
import { InMemoryHub } from '@peerbench/mesh';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CallerBudget } from '../src/caller-budget.js';
import { LedgerChainClient } from '../src/ledger-chain.js';
import { noiseHandlers } from '../src/noise-adversary.js';
import { Peer } from '../src/peer.js';
import { Trainer } from '../src/trainer.js';
import { LOCKSTEP, localLedger, SMALL_MODEL, skewedTask, useWasm } from './helpers.js';

beforeAll(async () => {
  await useWasm();
});

const column = async (v: tf.Variable, slot: number) => {
  const t = tf.tidy(() => tf.slice(v, [0, slot], [v.shape[0]!, 1]));
  const out = Array.from(await t.data());
  t.dispose();
  return out;
};

describe('a slot that changes hands', () => {
  it('a fresh start: gate column at the mean of the others, head block redrawn, Adam moments, stand-in and scores reset, other slots untouched', async () => {
    const hub = new InMemoryHub({ maxLinks: 3 });
    const net = hub.join('a');
    for (const id of ['b', 'c']) hub.join(id).serve(noiseHandlers(SMALL_MODEL.representationSize, 3));
    const trainer = new Trainer(await skewedTask([1, 2], 1, 120), 'a', net, SMALL_MODEL, LOCKSTEP);
    trainer.followLinks = true;
    await net.neighbourhood!.link('b');
    await net.neighbourhood!.link('c');
    for (let s = 0; s < 6; s++) await trainer.step();
    expect(trainer.slots.slice(0, 3)).toEqual(['a', 'b', 'c']);
    trainer.scorer.observeValidation([0, 1, 2, 0], 10, [true, true, true, false]);
    trainer.scorer.closeBlock();
    expect(trainer.standIns.steps(1)).toBeGreaterThan(0);
    const col2Before = await column(trainer.gate.wGate, 2);
    const noise2Before = await column(trainer.gate.wNoise, 2);
    expect(col2Before.some((v) => v !== 0)).toBe(true);
    const d = SMALL_MODEL.representationSize;
    const hidden = trainer.head.weights[0]!.shape[1]!;
    const headBefore = Array.from(await trainer.head.weights[0]!.data());

    trainer.resetSlot(1);
    // A fresh start: the gate column is the mean of the other remote slots in use (only
    // slot 2 here), not the old holder's, and the head block is redrawn, not kept.
    expect(await column(trainer.gate.wGate, 1)).toEqual(col2Before);
    expect(await column(trainer.gate.wNoise, 1)).toEqual(noise2Before);
    expect(await column(trainer.gate.wGate, 2)).toEqual(col2Before);
    const head = Array.from(await trainer.head.weights[0]!.data());
    const block1 = head.slice(d * hidden, 2 * d * hidden);
    expect(block1.some((v) => v !== 0)).toBe(true);
    expect(block1.filter((v, q) => v === headBefore[d * hidden + q]!).length).toBe(0);
    expect(head.slice(2 * d * hidden, 3 * d * hidden)).toEqual(
      headBefore.slice(2 * d * hidden, 3 * d * hidden),
    );
    expect(trainer.standIns.steps(1)).toBe(0);
    expect(trainer.standIns.steps(2)).toBeGreaterThan(0);
    const costs = trainer.scorer.validationCosts();
    expect(costs[1]).toBe(0);
    expect(costs[2]).toBeCloseTo(0.2, 9);
    // The moments of the reset entries are zero too: Adam's state of w_gate, column 1.
    const moments = (
      trainer as unknown as {
        optimizer: { accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[] };
      }
    ).optimizer.accumulatedFirstMoment.find((m) => m.originalName === `${trainer.gate.wGate.name}/m`);
    expect(moments).toBeDefined();
    expect((await column(moments!.variable, 1)).every((v) => v === 0)).toBe(true);
    expect((await column(moments!.variable, 2)).some((v) => v !== 0)).toBe(true);
    trainer.dispose();
  });

  it('slots follow the links; a reused slot starts fresh; numTensors stays flat over many hand-overs', async () => {
    const hub = new InMemoryHub({ maxLinks: 1 });
    const net = hub.join('a');
    const others = ['b', 'c', 'd'];
    for (const id of others) hub.join(id).serve(noiseHandlers(SMALL_MODEL.representationSize, 5));
    const trainer = new Trainer(await skewedTask([3, 4], 2, 120), 'a', net, SMALL_MODEL, LOCKSTEP);
    trainer.followLinks = true;
    const counts: number[] = [];
    for (let round = 0; round < 24; round++) {
      const next = others[round % 3]!;
      for (const id of net.peers()) net.neighbourhood!.unlink(id);
      expect(await net.neighbourhood!.link(next)).toBe(true);
      await trainer.step();
      // One remote slot in use, held by the linked peer; the others are free.
      expect(trainer.slots.filter((s) => s !== null)).toEqual(['a', next]);
      // Its stand-in has only this step's distillation behind it.
      expect(trainer.standIns.steps(trainer.slots.indexOf(next))).toBe(1);
      await trainer.step();
      await trainer.settleBackwards();
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts.slice(3)).size).toBe(1);
    trainer.dispose();
  });

  it('the expert server forgets a caller whose link closed (saved inputs and block budget)', () => {
    const budget = new CallerBudget(
      {
        maxSavedInputs: 10,
        maxSavedInputBytes: 1e6,
        maxSavedInputsPerCaller: 10,
        maxSavedInputBytesPerCaller: 1e6,
        maxBackwardsPerCallerPerBlock: 1,
        budgetWindowMs: 1e9,
      },
      () => 0,
    );
    const input = { x: new Float32Array(4), rows: 1, mask: 1, expiresAt: 1e9 };
    budget.save('b', 'r1', input);
    budget.save('c', 'r2', input);
    expect(budget.tryBackward('b')).toBe(true);
    expect(budget.tryBackward('b')).toBe(false);
    budget.forget('b');
    expect(budget.savedInputsOf('b')).toBe(0);
    expect(budget.savedInputs).toBe(1);
    expect(budget.savedInputBytes).toBe(16);
    expect(budget.tryBackward('b')).toBe(true);
  });
});

describe('Peers choosing their neighbours (in-memory hub, D = 2, real ledger)', () => {
  it('link at start, keep at most D, fill PeerSnapshot.neighbourhood, and their slots follow the links', async () => {
    const { producer, chain } = await localLedger(0.25);
    const hub = new InMemoryHub({ maxLinks: 2 });
    const peers: Peer[] = [];
    for (let i = 0; i < 5; i++)
      peers.push(
        await Peer.create({
          task: await skewedTask([i, (i + 1) % 10], i + 1, 120),
          network: (id) => hub.join(id.peerId),
          chain: (id) => new LedgerChainClient(chain, id),
          backend: false,
          model: { ...SMALL_MODEL, seed: i + 1 },
          step: { batchSize: 16, kMin: 99, graceMs: 0 },
          neighbours: { trialBlocks: 1, dropAfterBlocks: 1, seed: i },
          autoRun: false,
          evalEverySteps: 0,
          pingEveryMs: 0,
          saveEverySteps: 0,
        }),
      );
    for (const p of peers) await p.start();
    // Blocks until every registration has landed (each peer sends its own when it starts).
    await vi.waitFor(
      async () => {
        await producer.produceBlock();
        expect(peers.every((p) => p.getSnapshot().uid !== null)).toBe(true);
      },
      { timeout: 10_000, interval: 20 },
    );
    /** A block, and every peer has taken it in (its policy ran on it). */
    const nextBlock = async () => {
      const { block } = await producer.produceBlock();
      await vi.waitFor(() =>
        expect(peers.every((p) => p.getSnapshot().network?.height === block.height)).toBe(true),
      );
    };
    const tried = new Set<string>();
    for (let block = 0; block < 6; block++) {
      for (let s = 0; s < 2; s++) for (const p of peers) await p.step();
      await nextBlock();
      for (const p of peers) {
        const net = hub.endpoint(p.peerId)!;
        const linked = net.peers();
        expect(linked.length).toBeLessThanOrEqual(2);
        const view = p.getSnapshot().neighbourhood!;
        expect(view.maxLinks).toBe(2);
        expect(view.networkSize).toBe(5);
        expect(view.neighbours.length).toBeLessThanOrEqual(2);
        for (const n of view.neighbours) {
          expect(['kept', 'exploring']).toContain(n.reason);
          tried.add(`${p.peerId}>${n.peerId}`);
        }
        // Remote slots hold linked peers only (released at the step after an unlink).
        await p.step();
        const remote = p.runtime!.slots.slice(1).filter((s): s is string => s !== null);
        for (const id of remote) expect(net.peers()).toContain(id);
      }
    }
    // Links are symmetric and every peer has had neighbours.
    for (const p of peers) {
      for (const id of hub.endpoint(p.peerId)!.peers()) expect(hub.endpoint(id)!.peers()).toContain(p.peerId);
      expect(p.getSnapshot().neighbourhood!.triedCount).toBeGreaterThan(0);
    }
    expect(tried.size).toBeGreaterThan(5);
    for (const p of peers) await p.stop();
    await producer.stop();
  }, 60_000);
});
