import type { ChainState } from '@peerbench/peer';
import { describe, expect, it } from 'vitest';
import { consensusRow, selfDealRow } from '../src/adversaries.js';

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
