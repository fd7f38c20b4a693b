import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AdaptiveTauController,
  boundRowStep,
  columnShift,
  competitiveMask,
  createRng,
  diagonalToOffDiagonalRatio,
  inflate,
  maskValue,
  pearson,
  projectToSimplex,
  rank,
  rowDistance,
  sparsity,
  spearman,
} from '../src/index.js';

const f64 = (xs: number[]) => Float64Array.from(xs);

describe('rank (eq 4-5)', () => {
  it('matches a hand-computed 2x2 case', () => {
    // W = [[0.5,0.5],[0.25,0.75]], S = [2,4]
    // R_0 = (2*0.5 + 4*0.25)/2 = 1, R_1 = (2*0.5 + 4*0.75)/2 = 2
    const R = rank(f64([0.5, 0.5, 0.25, 0.75]), f64([2, 4]), 2);
    expect(Array.from(R)).toEqual([1, 2]);
  });
  it('is the normalised column sum when S = 1 (eq 4)', () => {
    const R = rank(f64([1, 0, 0, 0.2, 0.3, 0.5, 0, 0, 1]), f64([1, 1, 1]), 3);
    expect(R[0]).toBeCloseTo(1.2 / 3, 15);
    expect(R[1]).toBeCloseTo(0.3 / 3, 15);
    expect(R[2]).toBeCloseTo(1.5 / 3, 15);
  });
  it('gives 1/n to everyone when W = I and S = 1', () => {
    const n = 4;
    const W = new Float64Array(n * n);
    for (let i = 0; i < n; i++) W[i * n + i] = 1;
    expect(Array.from(rank(W, new Float64Array(n).fill(1), n))).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
  it('writes into out and rejects bad shapes', () => {
    const out = new Float64Array(2).fill(99);
    const r = rank(f64([1, 0, 0, 1]), f64([1, 1]), 2, out);
    expect(r).toBe(out);
    expect(Array.from(out)).toEqual([0.5, 0.5]);
    expect(() => rank(f64([1, 0, 0]), f64([1, 1]), 2)).toThrow(RangeError);
    expect(() => rank(f64([1, 0, 0, 1]), f64([1]), 2)).toThrow(RangeError);
  });
});

describe('inflate (eq 6)', () => {
  it('adds tau along R/|R|', () => {
    // R = [3,4], |R| = 5, tau = 10 -> S + [6, 8]
    expect(Array.from(inflate(f64([1, 1]), f64([3, 4]), 10))).toEqual([7, 9]);
  });
  it('leaves S unchanged when R = 0 and can write in place', () => {
    const S = f64([1, 2, 3]);
    expect(Array.from(inflate(S, f64([0, 0, 0]), 5))).toEqual([1, 2, 3]);
    inflate(S, f64([0, 0, 2]), 1, S);
    expect(Array.from(S)).toEqual([1, 2, 4]);
  });
  it('emits exactly tau in L2 norm', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.01, max: 10, noNaN: true }), { minLength: 2, maxLength: 10 }),
        fc.double({ min: 0.001, max: 5, noNaN: true }),
        (r, tau) => {
          const R = f64(r);
          const S = new Float64Array(r.length);
          const S1 = inflate(S, R, tau);
          expect(Math.hypot(...S1)).toBeCloseTo(tau, 9);
        },
      ),
    );
  });
});

describe('competitive mask (eq 7-8)', () => {
  it('maskValue is the temperature-scaled sigmoid', () => {
    expect(maskValue(0.5, 0.5, 1)).toBe(0.5);
    expect(maskValue(1, 0, 1)).toBeCloseTo(1 / (1 + Math.exp(-1)), 15);
    expect(maskValue(0, 1, 0.5)).toBeCloseTo(1 / (1 + Math.exp(2)), 15);
    // no overflow far out in either tail
    expect(maskValue(1000, 0, 0.001)).toBe(1);
    expect(maskValue(0, 1000, 0.001)).toBe(0);
  });
  it('columnShift is the stake-weighted column mean', () => {
    const mu = columnShift(f64([0.5, 0.5, 0.25, 0.75]), f64([2, 4]), 2);
    expect(Array.from(mu)).toEqual([1, 2]);
  });
  it('matches a hand-computed 2x2 mask', () => {
    // W = [[1,0],[0.5,0.5]], S = [1,1], T = 0.5: mu = [0.75, 0.25]
    // M00 = σ((1-0.75)/0.5) = σ(0.5); M01 = σ((0-0.25)/0.5) = σ(-0.5)
    // M10 = σ((0.5-0.75)/0.5) = σ(-0.5); M11 = σ((0.5-0.25)/0.5) = σ(0.5)
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    const M = competitiveMask(f64([1, 0, 0.5, 0.5]), f64([1, 1]), 2, 0.5);
    expect(M[0]).toBeCloseTo(sig(0.5), 15);
    expect(M[1]).toBeCloseTo(sig(-0.5), 15);
    expect(M[2]).toBeCloseTo(sig(-0.5), 15);
    expect(M[3]).toBeCloseTo(sig(0.5), 15);
  });
  it('punishes under-weighting: lower weight -> smaller mask', () => {
    const M = competitiveMask(f64([0.9, 0.1, 0.1, 0.9]), f64([1, 1]), 2, 0.1);
    expect(M[1]!).toBeLessThan(0.5);
    expect(M[0]!).toBeGreaterThan(0.5);
  });
  it('rejects a non-positive temperature', () => {
    expect(() => competitiveMask(f64([1, 0, 0, 1]), f64([1, 1]), 2, 0)).toThrow(RangeError);
  });
});

describe('projectToSimplex', () => {
  it('matches hand-computed projections', () => {
    // already on the simplex: unchanged
    expect(Array.from(projectToSimplex(f64([0.2, 0.3, 0.5])))).toEqual([0.2, 0.3, 0.5]);
    // [1,1] -> [0.5,0.5] (theta = 0.5)
    expect(Array.from(projectToSimplex(f64([1, 1])))).toEqual([0.5, 0.5]);
    // [2,0,0] -> [1,0,0] (theta = 1)
    expect(Array.from(projectToSimplex(f64([2, 0, 0])))).toEqual([1, 0, 0]);
    // [0.6, 0.6, -1]: theta = 0.1 -> [0.5, 0.5, 0]
    const p = projectToSimplex(f64([0.6, 0.6, -1]));
    expect(p[0]).toBeCloseTo(0.5, 15);
    expect(p[1]).toBeCloseTo(0.5, 15);
    expect(p[2]).toBe(0);
  });
  it('lands on the simplex and is the closest point (checked against random simplex points)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 0, max: 1000 }),
        (xs, seed) => {
          const x = f64(xs);
          const p = projectToSimplex(x);
          let sum = 0;
          for (const v of p) {
            expect(v).toBeGreaterThanOrEqual(0);
            sum += v;
          }
          expect(sum).toBeCloseTo(1, 10);
          const d = rowDistance(x, p);
          const rng = createRng(seed);
          for (let t = 0; t < 20; t++) {
            const q = new Float64Array(x.length);
            let qs = 0;
            for (let j = 0; j < q.length; j++) {
              q[j] = -Math.log(1 - rng.next());
              qs += q[j]!;
            }
            for (let j = 0; j < q.length; j++) q[j]! /= qs;
            expect(rowDistance(x, q)).toBeGreaterThanOrEqual(d - 1e-9);
          }
        },
      ),
    );
  });
  it('may project in place and rejects NaN', () => {
    const r = f64([3, 1]);
    projectToSimplex(r, r);
    expect(Array.from(r)).toEqual([1, 0]);
    expect(() => projectToSimplex(f64([Number.NaN, 1]))).toThrow(RangeError);
  });
});

describe('boundRowStep', () => {
  it('takes the full step when it is within epsilon', () => {
    expect(Array.from(boundRowStep(f64([1, 0]), f64([0.9, 0.1]), 1))).toEqual([0.9, 0.1]);
  });
  it('clips a long step to length epsilon along the same direction', () => {
    // old = [1,0], new = [0,1], distance sqrt(2); eps = sqrt(2)/4 -> quarter way
    const r = boundRowStep(f64([1, 0]), f64([0, 1]), Math.SQRT2 / 4);
    expect(r[0]).toBeCloseTo(0.75, 15);
    expect(r[1]).toBeCloseTo(0.25, 15);
  });
  it('never moves further than epsilon and stays on the simplex', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 10 }),
        fc.integer(),
        fc.double({ min: 0, max: 2, noNaN: true }),
        (n, seed, eps) => {
          const rng = createRng(seed);
          const a = projectToSimplex(Float64Array.from({ length: n }, () => rng.next()));
          const b = projectToSimplex(Float64Array.from({ length: n }, () => rng.next() * 3));
          const r = boundRowStep(a, b, eps);
          expect(rowDistance(a, r)).toBeLessThanOrEqual(eps + 1e-12);
          let s = 0;
          for (const v of r) {
            expect(v).toBeGreaterThanOrEqual(-1e-15);
            s += v;
          }
          expect(s).toBeCloseTo(1, 12);
        },
      ),
    );
  });
});

describe('sparsity (eq 17)', () => {
  it('is 1 for the identity and 1/n for the uniform matrix', () => {
    expect(sparsity(f64([1, 0, 0, 1]), 2)).toBe(1);
    expect(sparsity(new Float64Array(16).fill(0.25), 4)).toBe(0.25);
    expect(sparsity(new Float64Array(4), 2)).toBe(0);
  });
  it('matches a hand-computed case', () => {
    // diag = 0.5 + 0.75 = 1.25, total = 2
    expect(sparsity(f64([0.5, 0.5, 0.25, 0.75]), 2)).toBe(0.625);
    expect(diagonalToOffDiagonalRatio(f64([0.5, 0.5, 0.25, 0.75]), 2)).toBeCloseTo(1.25 / 0.75, 15);
    expect(diagonalToOffDiagonalRatio(f64([1, 0, 0, 1]), 2)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('AdaptiveTauController', () => {
  it('raises tau below the target and lowers it above, clamped', () => {
    const c = new AdaptiveTauController({ target: 0.5, gain: 2, maxTau: 1 });
    expect(c.tau).toBe(0);
    expect(c.update(0.25)).toBe(0.5); // 0 + 2*(0.5-0.25)
    expect(c.update(0.25)).toBe(1); // clamped at maxTau
    expect(c.update(0.75)).toBe(0.5); // 1 + 2*(0.5-0.75)
    expect(c.update(1)).toBe(0); // clamped at minTau = 0
    expect(c.update(0.5)).toBe(0); // on target: no change
  });
  it('validates its options and input', () => {
    expect(() => new AdaptiveTauController({ target: 1, gain: 0 })).toThrow(RangeError);
    expect(() => new AdaptiveTauController({ target: 1, gain: 1, minTau: 2, maxTau: 1 })).toThrow(RangeError);
    expect(() => new AdaptiveTauController({ target: 1, gain: 1 }).update(Number.NaN)).toThrow(RangeError);
  });
  it('drives a simple monotone plant onto the target', () => {
    // plant: sparsity = tau / (1 + tau), target 0.6 -> tau* = 1.5
    const c = new AdaptiveTauController({ target: 0.6, gain: 0.5 });
    let tau = c.tau;
    for (let t = 0; t < 500; t++) tau = c.update(tau / (1 + tau));
    expect(tau).toBeCloseTo(1.5, 6);
  });
});

describe('pearson / spearman', () => {
  it('match hand-computed values', () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 15);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 15);
    // x = [1,2,3,4], y = [1,3,2,4]: cov = 4, var = 5 each -> 0.8
    expect(pearson([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(0.8, 15);
    // Spearman is rank-based: a monotone transform keeps rho = 1
    expect(spearman([1, 2, 3, 4], [1, 10, 100, 1000])).toBeCloseTo(1, 15);
  });
  it('uses average ranks for ties', () => {
    // a ranks: [1, 2.5, 2.5, 4]; b ranks: [1,2,3,4]
    // mean 2.5; da = [-1.5,0,0,1.5], db = [-1.5,-.5,.5,1.5] -> cov 4.5, var_a 4.5, var_b 5
    expect(spearman([10, 20, 20, 30], [1, 2, 3, 4])).toBeCloseTo(4.5 / Math.sqrt(4.5 * 5), 15);
  });
  it('is NaN for a flat vector', () => {
    expect(pearson([0.25, 0.25, 0.25], [1, 2, 3])).toBeNaN();
    expect(spearman([1, 2, 3], [5, 5, 5])).toBeNaN();
  });
});

describe('createRng', () => {
  it('is reproducible per seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xa);
  });
  it('next is in [0,1) with mean ~ 1/2; normal has mean ~ 0 and variance ~ 1', () => {
    const r = createRng(7);
    let s = 0;
    let mn = 1;
    let mx = 0;
    const N = 20000;
    for (let i = 0; i < N; i++) {
      const v = r.next();
      s += v;
      mn = Math.min(mn, v);
      mx = Math.max(mx, v);
    }
    expect(mn).toBeGreaterThanOrEqual(0);
    expect(mx).toBeLessThan(1);
    expect(s / N).toBeGreaterThan(0.49);
    expect(s / N).toBeLessThan(0.51);
    let m = 0;
    let v2 = 0;
    for (let i = 0; i < N; i++) {
      const z = r.normal();
      m += z;
      v2 += z * z;
    }
    expect(Math.abs(m / N)).toBeLessThan(0.03);
    expect(v2 / N).toBeGreaterThan(0.95);
    expect(v2 / N).toBeLessThan(1.05);
  });
});
