import type { ChainState } from '@peerbench/peer';
import { describe, expect, it } from 'vitest';
import { consensusRow, noiseHandlers, selfDealRow } from '../src/adversaries.js';

const state = (weights: Array<Array<[number, number]>>, stakes: number[]): ChainState => ({
  height: 3,
  epsilon: 0.1,
  tau: 0.1,
  peerIds: weights.map((_, i) => `p${i}`),
  stakes,
  ranks: stakes.map(() => 0),
  weights,
});

describe('weight copier target (consensusRow)', () => {
  it('is the stake-weighted mean of the other set rows, skipping rows still all on their owner', () => {
    const s = state(
      [
        [
          [0, 0.5],
          [1, 0.5],
        ], // uid 0, stake 1
        [
          [1, 0.5],
          [2, 0.5],
        ], // uid 1, stake 3
        [[2, 1]], // uid 2: never scored (all self) → ignored
        [[3, 1]], // uid 3: the copier itself → ignored
      ],
      [1, 3, 5, 2],
    );
    const row = consensusRow(s, 3);
    expect(Array.from(row)).toEqual([
      expect.closeTo(0.125, 9),
      expect.closeTo(0.5, 9),
      expect.closeTo(0.375, 9),
      expect.closeTo(0, 9),
    ]);
  });

  it('falls back to all self-weight when no one else has set a row', () => {
    const row = consensusRow(state([[[0, 1]], [[1, 1]]], [1, 1]), 1);
    expect(Array.from(row)).toEqual([0, 1]);
  });
});

describe('noise endpoint', () => {
  it('answers every forward with [rows, d] uniform noise in [-1, 1], never NaN', async () => {
    const h = noiseHandlers(8, 1);
    const ac = new AbortController();
    const out = await h.forward('x', 'r1', { shape: [5, 784], data: new Float32Array(5 * 784) }, ac.signal);
    expect(out.shape).toEqual([5, 8]);
    expect(out.data.every((v) => Number.isFinite(v) && v >= -1 && v <= 1)).toBe(true);
    expect(new Set(out.data).size).toBeGreaterThan(30);
    await expect(h.backward('x', 'r1', out, ac.signal)).resolves.toBeUndefined();
  });
});

describe('self-dealer', () => {
  it('targets all weight on itself, whatever the others did', () => {
    const s = state(
      [
        [
          [0, 0.5],
          [1, 0.5],
        ],
        [[0, 1]],
        [[1, 1]],
      ],
      [1, 2, 3],
    );
    expect(Array.from(selfDealRow(s, 2))).toEqual([0, 0, 1]);
  });
});
