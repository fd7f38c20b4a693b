import { describe, expect, it } from 'vitest';
import type { SwarmOptions } from '../src/args.js';
import type { BlockRecord, ParticipantRecord } from '../src/record.js';
import { noiseBelowHonestInRows, noiseBelowHonestPairs, summarize } from '../src/summary.js';

// Participants 0-2 honest, 3-4 noise (as the swarm orders them: honest first).
const honest = [0, 1, 2];
const noise = [3, 4];

describe('noise below honest, per row (noiseBelowHonestInRows)', () => {
  it('counts a noise weight of 0 as below, even when the row also gives 0 to an honest peer', () => {
    // Row 0 gives honest peer 2 nothing (a sparse row): noise at 0 ties it, and that is below.
    const W = [
      [0.5, 0.5, 0, 0, 0],
      [0.3, 0.6, 0.1, 0, 0],
      [0.2, 0.2, 0.6, 0, 0],
    ];
    expect(noiseBelowHonestInRows(W, honest, noise)).toBe(true);
  });

  it('fails when a positive noise weight ties or exceeds the weakest honest weight in any honest row', () => {
    const tie = [
      [0.5, 0.4, 0.05, 0.05, 0],
      [0.3, 0.6, 0.1, 0, 0],
      [0.2, 0.2, 0.6, 0, 0],
    ];
    expect(noiseBelowHonestInRows(tie, honest, noise)).toBe(false);
    // A row that gives an honest peer 0 leaves no room for any positive noise weight.
    const aboveZero = [
      [0.5, 0.49, 0, 0.01, 0],
      [0.3, 0.6, 0.1, 0, 0],
      [0.2, 0.2, 0.6, 0, 0],
    ];
    expect(noiseBelowHonestInRows(aboveZero, honest, noise)).toBe(false);
    expect(noiseBelowHonestPairs(aboveZero, honest, noise)).toEqual({ below: 5, pairs: 6 });
    const strictlyBelow = [
      [0.5, 0.4, 0.06, 0.04, 0],
      [0.3, 0.6, 0.1, 0, 0.01],
      [0.2, 0.2, 0.6, 0, 0],
    ];
    expect(noiseBelowHonestInRows(strictlyBelow, honest, noise)).toBe(true);
  });

  it('ignores the own weight w_ii when finding the weakest honest neighbour', () => {
    // Row 1's own weight is 0 (w_ii out of R): only peers 0 and 2 are its honest neighbours.
    const W = [
      [0.5, 0.4, 0.1, 0, 0],
      [0.5, 0, 0.45, 0.05, 0],
      [0.2, 0.2, 0.6, 0, 0],
    ];
    expect(noiseBelowHonestInRows(W, honest, noise)).toBe(true);
  });
});

describe('summarize: weightBelowHonestFromBlock', () => {
  const participant = (index: number, kind: ParticipantRecord['kind']): ParticipantRecord => ({
    index,
    kind,
    shardSize: kind === 'noise' ? 0 : 100,
    dominantDigits: kind === 'noise' ? null : [0, 1],
    stoppedAtStep: null,
    view: kind === 'noise' ? null : 1,
    twinOf: null,
  });
  const block = (height: number, W: number[][], gate: number[][]): BlockRecord => ({
    height,
    step: height * 10,
    S: [1, 1, 1, 1, 1],
    R: [0.3, 0.3, 0.3, 0.05, 0.05],
    W,
    tau: 0.1,
    gateWeight: gate,
    ownRowShare: [0, 0, 0, null, null],
  });
  const noisyRow = [
    [0.5, 0.3, 0.1, 0.1, 0],
    [0.3, 0.6, 0.1, 0, 0],
    [0.2, 0.2, 0.6, 0, 0],
    [0, 0, 0, 1, 0],
    [0, 0, 0, 0, 1],
  ];
  // From block 3 on, row 0 is sparse: honest peer 2 and both noise peers get 0.
  const sparse = [
    [0.6, 0.4, 0, 0, 0],
    [0.3, 0.6, 0.1, 0, 0],
    [0.2, 0.2, 0.6, 0, 0],
    [0, 0, 0, 1, 0],
    [0, 0, 0, 0, 1],
  ];
  const gate = sparse.map((row) => row.map((v) => (v === 0 ? 0.01 : v)));

  it('is the first block from which sparse honest rows keep every noise peer at 0 (ties at 0 count)', () => {
    const summary = summarize({
      opts: { quality: 'none' } as unknown as SwarmOptions,
      records: [0, 1, 2]
        .map((i) => participant(i, 'honest'))
        .concat([3, 4].map((i) => participant(i, 'noise'))),
      steps: [],
      blocks: [
        block(1, noisyRow, noisyRow),
        block(2, noisyRow, gate),
        block(3, sparse, gate),
        block(4, sparse, gate),
      ],
      stepsDone: 40,
      interrupted: false,
      wallMs: 1,
      trainMs: 1,
      rpcMs: 0,
      servingMs: 0,
    });
    expect(summary.noise?.weightBelowHonestFromBlock).toBe(3);
    // Gate row 0 gives honest peer 2 and the noise peers the same 0.01 (> 0): a tie above 0 is not below.
    expect(summary.noise?.gateBelowHonestFromBlock).toBeNull();
    expect(summary.noise?.rankBelowHonestFromBlock).toBe(1);
    expect(summary.noise?.weightBelowHonestPairShareLast).toBe(1);
    // Row 0's gate: both noise peers tie the weakest honest peer above 0 (2 of 6 pairs fail).
    expect(summary.noise?.gateBelowHonestPairShareLast).toBeCloseTo(4 / 6, 12);
  });
});
