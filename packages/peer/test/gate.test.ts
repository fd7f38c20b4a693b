import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableTensor, importanceCv2, NoisyTopKGate } from '../src/gate.js';
import { useWasm } from './helpers.js';

beforeAll(useWasm);

describe('noisy top-k gate', () => {
  it('chooses exactly k available experts per example and gives the rest exactly zero', async () => {
    const gate = new NoisyTopKGate({ inputSize: 8, slots: 6, k: 2, scope: 'gate-test-1' });
    const available = [true, true, false, true, true, false];
    const h = tf.randomNormal<tf.Rank.R2>([50, 8]);
    const routing = await gate.route(h, available, true);
    const g = gate.gates(h, routing, availableTensor(available));
    const gv = g.arraySync();
    for (let b = 0; b < 50; b++) {
      const row = gv[b]!;
      const chosen = row.map((v, s) => (v > 0 ? s : -1)).filter((s) => s >= 0);
      expect(chosen).toHaveLength(2);
      for (const s of chosen) expect(available[s]).toBe(true);
      expect(row.reduce((a, c) => a + c, 0)).toBeCloseTo(1, 5);
      expect(row[2]).toBe(0);
      expect(row[5]).toBe(0);
    }
    // rowsBySlot agrees with the chosen mask
    expect(routing.rowsBySlot.reduce((n, r) => n + r.length, 0)).toBe(100);
    expect(routing.rowsBySlot[2]).toEqual([]);
    tf.dispose([h, g, routing.noise!]);
    gate.dispose();
  });

  it('caps k at the number of available experts', async () => {
    const gate = new NoisyTopKGate({ inputSize: 4, slots: 4, k: 3, scope: 'gate-test-2' });
    const h = tf.ones<tf.Rank.R2>([5, 4]);
    const routing = await gate.route(h, [true, false, false, false], false);
    expect(routing.noise).toBeNull();
    expect(routing.rowsBySlot[0]).toEqual([0, 1, 2, 3, 4]);
    h.dispose();
    gate.dispose();
  });

  it('CV² of importance is 0 when balanced, positive when not, and ignores unavailable slots', () => {
    const balanced = tf.tensor2d([
      [0.5, 0.5, 0],
      [0.5, 0.5, 0],
    ]);
    const skewed = tf.tensor2d([
      [1, 0, 0],
      [0.9, 0.1, 0],
    ]);
    const avail = availableTensor([true, true, false]);
    expect(importanceCv2(balanced, avail).dataSync()[0]).toBeCloseTo(0, 6);
    expect(importanceCv2(skewed, avail).dataSync()[0]).toBeGreaterThan(0.5);
    expect(importanceCv2(balanced, availableTensor([true, true, true])).dataSync()[0]).toBeGreaterThan(0.4);
  });

  it('the load-balancing term, minimised alone, spreads importance over the experts', async () => {
    // k = 2: with k = 1 the softmax over one logit is constantly 1 and has no gradient.
    const gate = new NoisyTopKGate({ inputSize: 8, slots: 4, k: 2, scope: 'gate-test-3' });
    const available = [true, true, true, true];
    const avail = availableTensor(available);
    // Start badly unbalanced: everything prefers slot 0.
    gate.wGate.assign(tf.tensor2d(Array.from({ length: 8 }, () => [2, 0, 0, 0])));
    const h = tf.abs(tf.randomNormal<tf.Rank.R2>([64, 8], 0, 1, 'float32', 7)) as tf.Tensor2D;
    const cv = async () => {
      const routing = await gate.route(h, available, true);
      const v = tf.tidy(() => importanceCv2(gate.gates(h, routing, avail), avail).dataSync()[0]!);
      routing.noise?.dispose();
      return v;
    };
    const before = await cv();
    const opt = tf.train.adam(0.05);
    for (let i = 0; i < 60; i++) {
      const routing = await gate.route(h, available, true);
      tf.tidy(() => {
        const { grads } = tf.variableGrads(
          () => importanceCv2(gate.gates(h, routing, avail), avail),
          gate.variables(),
        );
        opt.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      });
      routing.noise?.dispose();
    }
    const after = await cv();
    expect(before).toBeGreaterThan(1);
    expect(after).toBeLessThan(before / 2);
    gate.dispose();
  });
});
