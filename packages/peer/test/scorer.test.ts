import { projectToSimplex } from '@peerbench/mechanism';
import { describe, expect, it } from 'vitest';
import { nextWeightRow, Scorer, sparseRow } from '../src/scorer.js';

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0);
const dist = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Math.sqrt(Array.from(a).reduce((acc, v, i) => acc + (v - b[i]!) ** 2, 0));

describe('scorer', () => {
  it('mixes importance and Fisher EMAs and projects the row onto the simplex', () => {
    const scorer = new Scorer({ slots: 4, emaDecay: 0.9, importanceShare: 0.5 });
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
    const scorer = new Scorer({ slots: 3, emaDecay: 0.9, importanceShare: 0.5 });
    expect(Array.from(scorer.targetRow([1, 0, null], 1, 2))).toEqual([0, 1]);
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
