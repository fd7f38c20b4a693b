import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Composition, type CompositionInit } from '../src/composition.js';
import { GStudent } from '../src/g-student.js';
import { NoisyTopKGate } from '../src/gate.js';
import { Mlp } from '../src/model.js';
import { useWasm } from './helpers.js';

beforeAll(useWasm);

const IN = 6;
const D = 3;
const SLOTS = 3;

/** An encoder, gate and student of 3 slots (self + 2) and a Composition over them with P started as `init`. */
function parts(init: CompositionInit, scope: string) {
  const encoder = new Mlp('encoder', { sizes: [IN, 8, D], activations: ['relu', 'tanh'] }, 1, scope);
  const gate = new NoisyTopKGate({ inputSize: D, slots: SLOTS, k: 2, scope, noiseSeed: 2 });
  const student = new GStudent({
    inputSize: IN,
    outputSize: D,
    slots: SLOTS,
    hidden: 8,
    learningRate: 0.05,
    minTrainingSteps: 3,
    seed: 3,
    scope,
  });
  const ready = () => [false, student.ready(1), student.ready(2)];
  const composition = new Composition({ encoder, gate, student, ready }, SLOTS, D, scope, init);
  const dispose = () => {
    composition.dispose();
    student.dispose();
    encoder.dispose();
    gate.dispose();
  };
  return { encoder, student, composition, dispose };
}

const served = (c: Composition, x: tf.Tensor2D) => tf.tidy(() => Array.from(c.served().apply(x).dataSync()));

describe('how P of a depth-1 answer starts (composition.ts)', () => {
  it("'identity' answers tanh(e(x) + Σ_j g_j f̂_j(x)) once the student has blocks, 'zero' the encoder alone; both the encoder alone before", () => {
    const start = tf.memory().numTensors;
    const x = tf.randomUniform([4, IN], 0, 1, 'float32', 5) as tf.Tensor2D;
    const id = parts('identity', 'ci-identity');
    const zero = parts('zero', 'ci-zero');
    const before = tf.memory().numTensors;
    // P: one identity block per remote slot, or zeros.
    const eye = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ];
    expect(id.composition.p.arraySync()).toEqual([...eye, ...eye]);
    expect((zero.composition.p.arraySync() as number[][]).flat().every((v) => v === 0)).toBe(true);
    const encoderOnly = (e: Mlp) => tf.tidy(() => Array.from(e.apply(x).dataSync()));
    // No block trained yet: the student's view is empty, so both answer with the encoder alone.
    expect(served(id.composition, x)).toEqual(encoderOnly(id.encoder));
    expect(served(zero.composition, x)).toEqual(encoderOnly(zero.encoder));
    // Train slot 1's block of both students towards a fixed answer.
    const answer = { slot: 1, rows: [0, 1, 2, 3], data: new Float32Array(4 * D).fill(0.8) };
    const xData = x.dataSync() as Float32Array;
    for (const s of [id.student, zero.student])
      for (let i = 0; i < 5; i++) {
        s.remember(xData, [answer]);
        s.fit()?.dispose();
      }
    expect(id.student.ready(1)).toBe(true);
    // 'zero' still answers as its encoder; 'identity' adds the gated blocks, exactly.
    expect(served(zero.composition, x)).toEqual(encoderOnly(zero.encoder));
    const expected = tf.tidy(() => {
      const pre = id.encoder.applyPreActivation(x);
      const view = id.composition.networkView(x, tf.tanh(pre));
      const summed = tf.sum(tf.reshape(view, [4, SLOTS - 1, D]), 1);
      return Array.from(tf.tanh(tf.add(pre, summed)).dataSync());
    });
    const got = served(id.composition, x);
    for (const [i, v] of got.entries()) expect(v).toBeCloseTo(expected[i]!, 5);
    expect(Math.max(...got.map((v, i) => Math.abs(v - encoderOnly(id.encoder)[i]!)))).toBeGreaterThan(1e-3);
    // The students' Adam moments (2 per variable, 2 students) come from the fits; nothing else is left.
    const adamSlots = id.student.net.variables().length * 2 * 2;
    expect(tf.memory().numTensors).toBe(before + adamSlots);
    id.dispose();
    zero.dispose();
    x.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
