import { createRng, inflate, rank, sparsity } from '@peerbench/mechanism';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  boundedRowToward,
  inflateStake,
  nextTau,
  quantizeRow,
  rowFromPairs,
  rowStepL2,
  type SparseRow,
  selfRow,
  sparseRank,
  sparseSparsity,
  WEIGHT_SCALE,
} from '../src/index.js';

/** Random sparse fixed-point rows for n peers (each row on the simplex). */
function randomRows(n: number, seed: number): SparseRow[] {
  const rng = createRng(seed);
  const rows: SparseRow[] = [];
  for (let i = 0; i < n; i++) {
    const k = 1 + Math.floor(rng.next() * Math.min(n, 8));
    const picks = new Map<number, number>();
    picks.set(i, rng.next() + 0.01);
    for (let t = 0; t < k; t++) picks.set(Math.floor(rng.next() * n), rng.next());
    rows.push(rowFromPairs(quantizeRow([...picks.entries()])));
  }
  return rows;
}

function dense(rows: SparseRow[], n: number): Float64Array {
  const W = new Float64Array(n * n);
  rows.forEach((r, i) => {
    for (let k = 0; k < r.uids.length; k++) W[i * n + r.uids[k]!] = r.weights[k]! / WEIGHT_SCALE;
  });
  return W;
}

describe('sparse rank and inflation equal mechanism dense rank/inflate bit for bit', () => {
  it('on random small networks', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rng = createRng(seed * 7919);
      const n = 1 + (seed % 12);
      const rows = randomRows(n, seed);
      const S = new Float64Array(n).map(() => rng.next() * 10);
      if (seed % 5 === 0) S[0] = 0;
      const Rs = sparseRank(rows, S);
      const Rd = rank(dense(rows, n), S, n);
      expect(Array.from(Rs)).toEqual(Array.from(Rd));
      const tau = rng.next();
      expect(Array.from(inflateStake(S, Rs, tau))).toEqual(Array.from(inflate(S, Rd, tau)));
      expect(sparseSparsity(rows)).toBeCloseTo(sparsity(dense(rows, n), n), 12);
    }
  });

  it('returns S unchanged (not NaN) when all stake is zero', () => {
    const rows = [selfRow(0), selfRow(1)];
    const S = new Float64Array(2);
    const R = sparseRank(rows, S);
    expect(Array.from(inflateStake(S, R, 1))).toEqual([0, 0]);
  });

  it('adaptive τ follows the Fig 5 law and respects its clamps; fixed τ stays fixed', () => {
    const sched = { mode: 'adaptive', initial: 0, target: 0.5, gain: 0.2, min: 0, max: 1 } as const;
    expect(nextTau(sched, 0, 0.25)).toBeCloseTo(0.05, 15);
    expect(nextTau(sched, 0.1, 1)).toBe(0);
    expect(nextTau(sched, 0.99, 0)).toBe(1);
    expect(nextTau({ mode: 'fixed', value: 0.3 }, 0.9, 0)).toBe(0.3);
  });
});

describe('row helpers', () => {
  it('quantizeRow always yields integers summing exactly to WEIGHT_SCALE, sorted, capped', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(200), fc.double({ min: 0, max: 1e6, noNaN: true })), {
          minLength: 1,
          maxLength: 100,
        }),
        (scores) => {
          const uniq = [...new Map(scores).entries()];
          if (!uniq.some(([, s]) => s > 0)) return;
          const row = quantizeRow(uniq, 16);
          expect(row.length).toBeLessThanOrEqual(16);
          expect(row.reduce((s, [, w]) => s + w, 0)).toBe(WEIGHT_SCALE);
          for (let k = 1; k < row.length; k++) expect(row[k]![0]).toBeGreaterThan(row[k - 1]![0]);
          for (const [, w] of row) expect(Number.isInteger(w) && w > 0).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('boundedRowToward never exceeds ε and reaches the target when it is close', () => {
    const cur = selfRow(0);
    const far: Array<[number, number]> = [
      [1, 1],
      [2, 1],
    ];
    const step = boundedRowToward(cur, far, 0.25);
    const d = rowStepL2(rowFromPairs(step), cur);
    expect(d).toBeLessThanOrEqual(0.25);
    expect(d).toBeGreaterThan(0.15);
    const near: Array<[number, number]> = [
      [0, 0.9],
      [1, 0.1],
    ];
    expect(boundedRowToward(cur, near, 0.25)).toEqual([
      [0, 900_000_000],
      [1, 100_000_000],
    ]);
  });
});

describe('sparseRank without self-weights (genesis selfWeightsInRank: false)', () => {
  it('equals the dense rank of W with its diagonal zeroed, and a self-only row adds nothing', () => {
    const n = 12;
    const rows = randomRows(n, 77);
    const S = Float64Array.from({ length: n }, (_, i) => 1 + i / 3);
    const W = new Float64Array(n * n);
    rows.forEach((r, i) => {
      r.uids.forEach((j, k) => {
        if (j !== i) W[i * n + j] = r.weights[k]! / WEIGHT_SCALE;
      });
    });
    const got = sparseRank(rows, S, undefined, false);
    const want = rank(W, S, n);
    for (let j = 0; j < n; j++) expect(got[j]).toBeCloseTo(want[j]!, 12);
    const withSelf = sparseRank(rows, S);
    expect(Array.from(withSelf)).not.toEqual(Array.from(got));
    const alone = sparseRank([selfRow(0), selfRow(1)], Float64Array.of(3, 1), undefined, false);
    expect(Array.from(alone)).toEqual([0, 0]);
  });
});
