/**
 * Gate exploration of young slots (young-slots.ts, issue 14): the share
 * decays to 0 and restarts when a slot changes hands; the training route
 * forces young slots into the top-k of a share of the rows, evaluation and
 * scoring route with the plain gate; no tensor leaks.
 */
import { createRng } from '@peerbench/mechanism';
import { InMemoryHub } from '@peerbench/mesh';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { availableTensor, NoisyTopKGate } from '../src/gate.js';
import { noiseHandlers } from '../src/noise-adversary.js';
import { measureRemovalCosts } from '../src/removal-cost.js';
import { Trainer } from '../src/trainer.js';
import { forceYoungRows, YoungSlots } from '../src/young-slots.js';
import { LOCKSTEP, SMALL_MODEL, skewedTask, useWasm } from './helpers.js';

beforeAll(useWasm);

describe('YoungSlots', () => {
  it('a taken slot explores share·(1 − t/steps), 0 from `steps` on, again from the full share when it changes hands', () => {
    const young = new YoungSlots(4, { steps: 10, share: 0.4 }, 1);
    expect(young.exploration(0)).toBeUndefined();
    young.taken(2, 100);
    expect(young.share(2, 99)).toBe(0);
    expect(young.share(2, 100)).toBeCloseTo(0.4, 12);
    expect(young.share(2, 105)).toBeCloseTo(0.2, 12);
    expect(young.share(2, 109)).toBeCloseTo(0.04, 12);
    expect(young.share(2, 110)).toBe(0);
    expect(young.share(1, 105)).toBe(0);
    expect(Array.from(young.exploration(105)!.shares)).toEqual([0, 0, Math.fround(0.2), 0]);
    expect(young.exploration(110)).toBeUndefined();
    // Released, then taken by a new holder: the full share again, counted from the new take.
    young.released(2);
    expect(young.share(2, 101)).toBe(0);
    young.taken(2, 200);
    expect(young.share(2, 200)).toBeCloseTo(0.4, 12);
    // Slot 0 (self) is never young.
    young.taken(0, 200);
    expect(young.share(0, 200)).toBe(0);
  });

  it('share 0 or steps 0 is off; out-of-range options are refused', () => {
    for (const off of [{ share: 0 }, { steps: 0 }]) {
      const young = new YoungSlots(3, off, 1);
      young.taken(1, 0);
      expect(young.enabled).toBe(false);
      expect(young.share(1, 0)).toBe(0);
      expect(young.exploration(0)).toBeUndefined();
    }
    expect(() => new YoungSlots(3, { share: 1.5 })).toThrow(RangeError);
    expect(() => new YoungSlots(3, { steps: -1 })).toThrow(RangeError);
  });
});

describe('forceYoungRows', () => {
  /** Rows of 5 slots, k = 2, the gate's choice [0, 1] in every row. */
  const setup = (batch: number) => {
    const chosen = new Float32Array(batch * 5);
    const ranked = new Int32Array(batch * 2);
    for (let b = 0; b < batch; b++) {
      chosen[b * 5] = 1;
      chosen[b * 5 + 1] = 1;
      ranked[b * 2] = 0;
      ranked[b * 2 + 1] = 1;
    }
    return { chosen, ranked };
  };
  const rowsOf = (chosen: Float32Array, batch: number, s: number) =>
    Array.from({ length: batch }, (_, b) => chosen[b * 5 + s]).filter((v) => v === 1).length;

  it('routes a young slot about its share of the rows, in place of the lowest-ranked remote slot; every row keeps k', () => {
    const batch = 2000;
    const { chosen, ranked } = setup(batch);
    const shares = new Float32Array([0, 0, 0, 0.3, 0]);
    forceYoungRows(chosen, ranked, batch, 2, [true, true, true, true, true], { shares, rng: createRng(3) });
    const forced = rowsOf(chosen, batch, 3);
    expect(forced / batch).toBeGreaterThan(0.26);
    expect(forced / batch).toBeLessThan(0.34);
    expect(rowsOf(chosen, batch, 0)).toBe(batch); // self kept
    expect(rowsOf(chosen, batch, 1)).toBe(batch - forced);
    for (let b = 0; b < batch; b++) expect(chosen.slice(b * 5, b * 5 + 5).reduce((a, c) => a + c)).toBe(2);
  });

  it('at most one forced slot per row; shares summing over 1 are scaled to 1; unavailable slots are never forced', () => {
    const batch = 1000;
    const { chosen, ranked } = setup(batch);
    const shares = new Float32Array([0, 0, 0.9, 0.9, 0.9]);
    const available = [true, true, true, true, false];
    forceYoungRows(chosen, ranked, batch, 2, available, { shares, rng: createRng(4) });
    expect(rowsOf(chosen, batch, 4)).toBe(0);
    const two = rowsOf(chosen, batch, 2);
    const three = rowsOf(chosen, batch, 3);
    expect(two + three).toBe(batch);
    expect(Math.abs(two - three)).toBeLessThan(120);
  });
});

describe('the gate with exploration', () => {
  it('only the route given an exploration forces rows; the plain route is unchanged; gates stay a softmax over the chosen', async () => {
    const gate = new NoisyTopKGate({ inputSize: 6, slots: 5, k: 2, scope: 'young-gate-1', noiseSeed: 9 });
    const plainGate = new NoisyTopKGate({
      inputSize: 6,
      slots: 5,
      k: 2,
      scope: 'young-gate-2',
      noiseSeed: 9,
    });
    tf.tidy(() => {
      // Slot 4's column far below the others: the plain gate never picks it.
      const w = tf.buffer([6, 5], 'float32');
      for (let r = 0; r < 6; r++) for (let s = 0; s < 5; s++) w.set(s === 4 ? -5 : s === 0 ? 1 : 0.5, r, s);
      gate.wGate.assign(w.toTensor() as tf.Tensor2D);
      plainGate.wGate.assign(w.toTensor() as tf.Tensor2D);
    });
    const available = [true, true, true, true, true];
    const h = tf.ones<tf.Rank.R2>([200, 6]);
    const before = tf.memory().numTensors;
    const shares = new Float32Array([0, 0, 0, 0, 0.5]);
    const explored = await gate.route(h, available, true, { shares, rng: createRng(2) });
    const plain = await plainGate.route(h, available, true);
    expect(plain.rowsBySlot[4]).toEqual([]);
    const forced = explored.rowsBySlot[4]!.length;
    expect(forced).toBeGreaterThan(70);
    expect(forced).toBeLessThan(130);
    // Same noise draw; the rows not forced are routed exactly as the plain gate routes them.
    const forcedRows = new Set(explored.rowsBySlot[4]);
    for (let b = 0; b < 200; b++)
      if (!forcedRows.has(b))
        expect(explored.chosen.slice(b * 5, b * 5 + 5)).toEqual(plain.chosen.slice(b * 5, b * 5 + 5));
    // Evaluation-style routing (no noise, no exploration) never picks slot 4.
    const clean = await gate.route(h, available, false);
    expect(clean.rowsBySlot[4]).toEqual([]);
    const all = availableTensor(available);
    const g = gate.gates(h, explored, all);
    const gv = (await g.array()) as number[][];
    for (const b of forcedRows) {
      expect(gv[b]![4]).toBeGreaterThan(0);
      expect(gv[b]!.reduce((a, c) => a + c, 0)).toBeCloseTo(1, 5);
    }
    tf.dispose([g, all, explored.noise!, plain.noise!]);
    expect(tf.memory().numTensors).toBe(before);
    h.dispose();
    gate.dispose();
    plainGate.dispose();
  });
});

describe('a trainer exploring its young slots', () => {
  it('explores in training steps only (not in scoring or evaluation), restarts on a hand-over, and numTensors stays flat', async () => {
    const hub = new InMemoryHub({ maxLinks: 3 });
    const net = hub.join('a');
    for (const id of ['b', 'c', 'd']) hub.join(id).serve(noiseHandlers(SMALL_MODEL.representationSize, 3));
    const model = { ...SMALL_MODEL, seed: 5, youngSlots: { steps: 6, share: 0.5 } };
    const trainer = new Trainer(await skewedTask([1, 2], 1, 120), 'a', net, model, LOCKSTEP);
    trainer.followLinks = true;
    await net.neighbourhood!.link('b');
    await net.neighbourhood!.link('c');
    const route = vi.spyOn(trainer.gate, 'route');
    await trainer.step();
    expect(trainer.slots.slice(0, 3)).toEqual(['a', 'b', 'c']);
    // Both slots were taken at step 0: the training route explored them at the full share.
    const explore = route.mock.calls[0]![3];
    expect(explore).toBeDefined();
    expect(Array.from(explore!.shares.slice(1, 3))).toEqual([0.5, 0.5]);
    // The scoring pass (removal cost, noisy like the swarm's) and evaluation route with the plain gate.
    route.mockClear();
    await measureRemovalCosts(trainer, trainer.task.nextBatch(16), undefined, 'noisy');
    await trainer.evaluate();
    expect(route.mock.calls.length).toBeGreaterThanOrEqual(2);
    for (const call of route.mock.calls) expect(call[3]).toBeUndefined();
    // After `steps` training steps nothing is young: the plain gate trains.
    for (let s = 0; s < 6; s++) await trainer.step();
    route.mockClear();
    await trainer.step();
    expect(route.mock.calls[0]![3]).toBeUndefined();
    // c leaves, d takes its slot: d is young from this step, b is not.
    net.neighbourhood!.unlink('c');
    await net.neighbourhood!.link('d');
    route.mockClear();
    await trainer.step();
    expect(trainer.slots[2]).toBe('d');
    expect(Array.from(route.mock.calls[0]![3]!.shares.slice(1, 3))).toEqual([0, 0.5]);
    route.mockRestore();
    await trainer.settleBackwards();
    // Exploring steps leak nothing.
    const counts: number[] = [];
    for (let round = 0; round < 6; round++) {
      net.neighbourhood!.unlink(round % 2 === 0 ? 'd' : 'c');
      await net.neighbourhood!.link(round % 2 === 0 ? 'c' : 'd');
      await trainer.step();
      await trainer.step();
      await trainer.settleBackwards();
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts.slice(2)).size).toBe(1);
    trainer.dispose();
  });
});
