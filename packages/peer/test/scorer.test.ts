import { projectToSimplex } from '@peerbench/mechanism';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCORER_OPTIONS, nextWeightRow, Scorer, sparseRow } from '../src/scorer.js';

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0);
const dist = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Math.sqrt(Array.from(a).reduce((acc, v, i) => acc + (v - b[i]!) ** 2, 0));

describe('scorer', () => {
  it('mixes importance and Fisher EMAs and projects the row onto the simplex', () => {
    const scorer = new Scorer({
      slots: 4,
      emaDecay: 0.9,
      importanceShare: 0.5,
      removalSource: 'training',
      windowBlocks: 1,
    });
    for (let t = 0; t < 50; t++) scorer.observe([10, 5, 5, 0], [0, 3, 1, 0]);
    const scores = scorer.slotScores();
    expect(sum(scores)).toBeCloseTo(1, 9);
    // importance shares 0.5,0.25,0.25,0 and Fisher 0,0.75,0.25,0, mixed half/half
    expect(Array.from(scores)).toEqual([0.25, 0.5, 0.25, 0].map((v) => expect.closeTo(v, 6)));
    // slots → uids: slot 0 (self) is uid 2, slot 1 uid 0, slot 2 unknown (drops out), slot 3 uid 1
    const row = scorer.targetRow([2, 0, null, 1], 2, 3);
    expect(sum(row)).toBeCloseTo(1, 9);
    expect(Array.from(row)).toEqual(Array.from(projectToSimplex(Float64Array.of(0.5, 0, 0.25))));
    for (const w of row) expect(w).toBeGreaterThanOrEqual(0);
  });

  it('an empty history scores all weight to self', () => {
    const scorer = new Scorer({ slots: 3, ...DEFAULT_SCORER_OPTIONS });
    expect(Array.from(scorer.targetRow([1, 0, null], 1, 2))).toEqual([0, 1]);
  });

  it('validation source: the mean measured cost over the window of complete blocks, stand-ins not credited, gate importance ignored', () => {
    const scorer = new Scorer({ slots: 3, ...DEFAULT_SCORER_OPTIONS, windowBlocks: 2 });
    // Training-batch signals do not move a validation scorer's removal costs.
    scorer.observe([100, 0, 0], [5, 5, 5]);
    // Block 1: slot 1 costs 0.4 per example over 10 rows; slot 2 was a stand-in (not credited).
    scorer.observeValidation([1, 4, 9], 10, [true, true, false]);
    expect(Array.from(scorer.validationCosts())).toEqual([0.1, 0.4, 0].map((v) => expect.closeTo(v, 12)));
    scorer.closeBlock();
    // Block 2: slot 2 answered itself; slot 1 hurt (negative cost).
    scorer.observeValidation([1, -2, 6], 10, [true, true, true]);
    scorer.closeBlock();
    expect(Array.from(scorer.validationCosts())).toEqual([0.1, 0.1, 0.6].map((v) => expect.closeTo(v, 12)));
    // Block 3 pushes block 1 out of a 2-block window.
    scorer.observeValidation([0, -2, 2], 10, [true, true, true]);
    scorer.closeBlock();
    expect(Array.from(scorer.validationCosts())).toEqual([0.05, -0.2, 0.4].map((v) => expect.closeTo(v, 12)));
    // Negative cost clipped at 0; gate importance (all on slot 0) has no share.
    expect(Array.from(scorer.slotScores())).toEqual(
      [0.05 / 0.45, 0, 0.4 / 0.45].map((v) => expect.closeTo(v, 12)),
    );
    scorer.resetSlot(2);
    expect(scorer.validationCosts()[2]).toBe(0);
  });

  it('moves the row at most ε per block, starting from self-weight when the ledger has no row', () => {
    const target = Float64Array.of(0.1, 0.6, 0.3);
    const first = nextWeightRow(new Float64Array(3), target, 0, 0.2);
    expect(dist(first, Float64Array.of(1, 0, 0))).toBeLessThanOrEqual(0.2);
    expect(sum(first)).toBeCloseTo(1, 12);
    let row = first;
    for (let b = 0; b < 20; b++) {
      const next = nextWeightRow(row, target, 0, 0.2);
      expect(dist(next, row)).toBeLessThanOrEqual(0.2 + 1e-12);
      row = next;
    }
    expect(dist(row, target)).toBeLessThan(1e-9);
    expect(sparseRow(Float64Array.of(0, 0.4, 0.6))).toEqual([
      [1, 0.4],
      [2, 0.6],
    ]);
  });
});
