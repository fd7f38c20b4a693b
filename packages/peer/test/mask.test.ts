import { competitiveMask, createRng } from '@peerbench/mechanism';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChainState } from '../src/chain.js';
import { MaskTable } from '../src/competitive-mask.js';
import { ExpertServer } from '../src/expert-server.js';
import { Mlp } from '../src/model.js';
import { useWasm } from './helpers.js';

beforeAll(useWasm);

function randomState(n: number, seed: number): ChainState {
  const rng = createRng(seed);
  const weights: Array<Array<[number, number]>> = [];
  for (let i = 0; i < n; i++) {
    const raw = Array.from({ length: n }, () => (rng.next() < 0.3 ? 0 : rng.next()));
    raw[i]! += 0.1;
    const sum = raw.reduce((a, b) => a + b, 0);
    weights.push(raw.map((w, j) => [j, w / sum] as [number, number]).filter(([, w]) => w > 0));
  }
  return {
    height: 7,
    epsilon: 0.25,
    tau: 0.1,
    peerIds: Array.from({ length: n }, (_, i) => `p${i}`),
    stakes: Array.from({ length: n }, () => 0.5 + 3 * rng.next()),
    ranks: new Array<number>(n).fill(0),
    weights,
  };
}

describe('competitive mask (eq 7-8)', () => {
  it('matches packages/mechanism competitiveMask for every (caller, responder)', () => {
    const n = 6;
    const state = randomState(n, 3);
    const W = new Float64Array(n * n);
    state.weights.forEach((row, i) => {
      for (const [j, w] of row) W[i * n + j] = w;
    });
    const meanStake = state.stakes.reduce((a, b) => a + b, 0) / n;
    for (const T of [0.05, 1]) {
      // The table's temperature is relative to the mean stake.
      const M = competitiveMask(W, Float64Array.from(state.stakes), n, T * meanStake);
      for (let j = 0; j < n; j++) {
        const table = new MaskTable(state, j, T);
        for (let i = 0; i < n; i++) expect(table.forCaller(i)).toBeCloseTo(M[i * n + j]!, 12);
      }
    }
  });

  it('an unregistered caller is masked like a caller with zero stake; before the ledger knows us, no mask', () => {
    const state = randomState(4, 5);
    const table = new MaskTable(state, 1, 0.5);
    const mu = state.stakes.reduce((acc, s, i) => acc + s * (new Map(state.weights[i]).get(1) ?? 0), 0) / 4;
    const T = 0.5 * (state.stakes.reduce((a, b) => a + b, 0) / 4);
    expect(table.forCaller(null)).toBeCloseTo(1 / (1 + Math.exp(mu / T)), 12);
    expect(new MaskTable(state, null, 0.5).forCaller(2)).toBe(1);
  });

  it('does not sharpen as inflation scales every stake: the same weights give the same masks at 1x and 100x stake', () => {
    const n = 5;
    const state = randomState(n, 9);
    const inflated: ChainState = { ...state, stakes: state.stakes.map((s) => s * 100) };
    for (let j = 0; j < n; j++) {
      const a = new MaskTable(state, j, 0.1);
      const b = new MaskTable(inflated, j, 0.1);
      for (let i = 0; i < n; i++) expect(b.forCaller(i)).toBeCloseTo(a.forCaller(i), 12);
      expect(b.forCaller(null)).toBeCloseTo(a.forCaller(null), 12);
    }
    // And the masks are not trivially flat: callers that weight j differently get different masks.
    const t = new MaskTable(state, 0, 0.1);
    const values = Array.from({ length: n }, (_, i) => t.forCaller(i));
    expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(0.05);
  });

  it('rows the ledger marks inactive do not enter the column shift', () => {
    const n = 4;
    const state = randomState(n, 11);
    const withoutRow2: ChainState = {
      ...state,
      weights: state.weights.map((row, i) => (i === 2 ? [] : row)),
    };
    const inactive2: ChainState = { ...state, activeRows: [true, true, false, true] };
    expect(state.weights[2]!.length).toBeGreaterThan(1);
    for (let j = 0; j < n; j++) {
      const a = new MaskTable(withoutRow2, j, 0.5);
      const b = new MaskTable(inactive2, j, 0.5);
      const full = new MaskTable(state, j, 0.5);
      for (let i = 0; i < n; i++) expect(b.forCaller(i)).toBeCloseTo(a.forCaller(i), 12);
      // Where row 2 weights j, leaving it out moves μ_j, hence the mask.
      if ((new Map(state.weights[2]).get(j) ?? 0) > 0)
        expect(b.forCaller(null)).not.toBeCloseTo(full.forCaller(null), 6);
    }
  });

  it('the expert server scales its answer by the mask for that caller', async () => {
    const before = tf.memory().numTensors;
    const enc = new Mlp('enc', { sizes: [5, 4], activations: ['tanh'] }, 1, 'mask-test');
    const server = new ExpertServer(enc, (caller) => (caller === 'dim' ? 0.25 : 1));
    const x = { shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => (i % 7) / 7) };
    const full = await server.forward('bright', 'r1', x);
    const dim = await server.forward('dim', 'r2', x);
    for (let k = 0; k < full.data.length; k++) expect(dim.data[k]).toBeCloseTo(full.data[k]! * 0.25, 6);
    server.dispose();
    enc.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
