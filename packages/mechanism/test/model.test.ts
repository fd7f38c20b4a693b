import { describe, expect, it } from 'vitest';
import {
  competitiveMask,
  coupledRank,
  createRng,
  idealRank,
  idealWeights,
  NashSolver,
  type PayoffModel,
  PayoffWorkspace,
  payoff,
  payoffGradient,
  projectToSimplex,
  projectToSimplexPivot,
  randomPsdHessians,
  randomSimplexMatrix,
  rowLoss,
  solveNash,
} from '../src/index.js';

const f64 = (xs: number[]) => Float64Array.from(xs);

function randomModel(n: number, seed: number, over: Partial<PayoffModel> = {}): PayoffModel {
  const rng = createRng(seed);
  const stake = Float64Array.from({ length: n }, () => 0.5 + rng.next());
  const referenceMask = Float64Array.from({ length: n * n }, () => rng.next());
  return {
    n,
    alpha: 3,
    tau: 0.7,
    temperature: 0.3,
    stake,
    hessians: randomPsdHessians(rng, n),
    referenceMask,
    ...over,
  };
}

describe('payoff and its gradient (eq 12-16)', () => {
  it('matches a hand-computed 2-peer case', () => {
    // W uniform, S = 1, T = 1: mu = [0.5, 0.5], every mask sigma(0) = 0.5.
    // Reference mask 1: d_0 = [-0.5, -0.5]; H_0 = diag(2, 1): H d = [-1, -0.5].
    // L_0 = 0.25*2 + 0.25*1 = 0.75.
    // dm/dw = 0.25 * 1 * (1 - 1/2) / 1 = 0.125 -> dL/dw_00 = 2*(-1)*0.125 = -0.25,
    // dL/dw_01 = 2*(-0.5)*0.125 = -0.125. With alpha = tau = 1:
    // g_00 = 0.25 + 1/2 = 0.75, g_01 = 0.125. R_0 = (0.5 + 0.5)/2 = 0.5, P_0 = -0.75 + 0.5.
    const model: PayoffModel = {
      n: 2,
      alpha: 1,
      tau: 1,
      temperature: 1,
      stake: f64([1, 1]),
      hessians: f64([2, 0, 0, 1, 1, 0, 0, 1]),
      referenceMask: f64([1, 1, 1, 1]),
    };
    const W = f64([0.5, 0.5, 0.5, 0.5]);
    expect(rowLoss(model, W, 0)).toBeCloseTo(0.75, 15);
    expect(payoff(model, W, 0)).toBeCloseTo(-0.25, 15);
    const G = payoffGradient(model, W);
    expect(G[0]).toBeCloseTo(0.75, 15);
    expect(G[1]).toBeCloseTo(0.125, 15);
    // Peer 1 with H_1 = I: H d = [-0.5, -0.5] -> dL = -0.125 each; g_10 = 0.125, g_11 = 0.125 + 0.5
    expect(G[2]).toBeCloseTo(0.125, 15);
    expect(G[3]).toBeCloseTo(0.625, 15);
  });

  it('is zero loss gradient at the reference: only the inflation pull on w_ii remains', () => {
    const n = 4;
    const rng = createRng(3);
    const W = randomSimplexMatrix(rng, n);
    const model = randomModel(n, 4);
    const ref = competitiveMask(W, model.stake, n, model.temperature);
    const G = payoffGradient({ ...model, referenceMask: ref }, W);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const expected = i === j ? (model.tau * model.stake[i]!) / n : 0;
        expect(G[i * n + j]).toBeCloseTo(expected, 14);
      }
    }
  });

  for (const [n, seed, T] of [
    [3, 1, 0.3],
    [5, 2, 1],
    [7, 3, 0.05],
    [8, 4, 2],
  ] as const) {
    it(`equals central finite differences of P_i (n=${n}, T=${T})`, () => {
      const model = randomModel(n, seed, { temperature: T });
      const W = randomSimplexMatrix(createRng(seed + 100), n);
      const G = payoffGradient(model, W);
      const h = 1e-6;
      let worst = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const Wp = Float64Array.from(W);
          const Wm = Float64Array.from(W);
          Wp[i * n + j]! += h;
          Wm[i * n + j]! -= h;
          const fd = (payoff(model, Wp, i) - payoff(model, Wm, i)) / (2 * h);
          const err = Math.abs(fd - G[i * n + j]!) / Math.max(1, Math.abs(fd));
          worst = Math.max(worst, err);
        }
      }
      expect(worst).toBeLessThan(1e-7);
    });
  }

  it('reuses a workspace and writes into out without changing the result', () => {
    const model = randomModel(6, 9);
    const W = randomSimplexMatrix(createRng(10), 6);
    const ws = new PayoffWorkspace(6);
    const out = new Float64Array(36);
    const a = Array.from(payoffGradient(model, W, out, ws));
    const b = Array.from(payoffGradient(model, W));
    expect(a).toEqual(b);
    expect(payoffGradient(model, W, out, ws)).toBe(out);
  });
});

describe('ideal rank (eq 2)', () => {
  it('matches a hand-computed 2-peer case', () => {
    // H_0 = diag(1, 2), H_1 = diag(3, 4): R_0 = (1 + 3)/2 = 2, R_1 = (2 + 4)/2 = 3
    const H = f64([1, 0, 0, 2, 3, 0, 0, 4]);
    expect(Array.from(idealRank(H, 2))).toEqual([2, 3]);
    // honest weights of eq 3: w_ij = (H_i)_jj
    expect(Array.from(idealWeights(H, 2))).toEqual([1, 2, 3, 4]);
  });
  it('ignores off-diagonal curvature (removing one input at a time)', () => {
    const H = f64([1, 5, 5, 2, 3, -1, -1, 4]);
    expect(Array.from(idealRank(H, 2))).toEqual([2, 3]);
    // the coupled diagnostic keeps it: row sums (1+5, 5+2) and (3-1, -1+4)
    // -> C_0 = (6 + 2)/2 = 4, C_1 = (7 + 3)/2 = 5
    expect(Array.from(coupledRank(H, 2))).toEqual([4, 5]);
  });
});

describe('random inputs', () => {
  it('Hessians are symmetric, PSD and unit-trace', () => {
    const n = 6;
    const H = randomPsdHessians(createRng(5), n);
    const rng = createRng(6);
    for (let i = 0; i < n; i++) {
      const b = i * n * n;
      let tr = 0;
      for (let a = 0; a < n; a++) {
        tr += H[b + a * n + a]!;
        for (let c = 0; c < n; c++) expect(H[b + a * n + c]).toBe(H[b + c * n + a]);
      }
      expect(tr).toBeCloseTo(1, 12);
      for (let t = 0; t < 50; t++) {
        const x = Float64Array.from({ length: n }, () => rng.normal());
        let q = 0;
        for (let a = 0; a < n; a++) for (let c = 0; c < n; c++) q += x[a]! * H[b + a * n + c]! * x[c]!;
        expect(q).toBeGreaterThanOrEqual(-1e-12);
      }
    }
    // the ideal rank of unit-trace Hessians sums to 1, like R* with S = 1
    const R = idealRank(H, n);
    expect(R.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 12);
  });
  it('W0 rows lie on the simplex and depend only on the seed', () => {
    const W = randomSimplexMatrix(createRng(7), 5);
    for (let i = 0; i < 5; i++) {
      let s = 0;
      for (let j = 0; j < 5; j++) {
        expect(W[i * 5 + j]).toBeGreaterThan(0);
        s += W[i * 5 + j]!;
      }
      expect(s).toBeCloseTo(1, 14);
    }
    expect(Array.from(randomSimplexMatrix(createRng(7), 5))).toEqual(Array.from(W));
  });
});

describe('projectToSimplexPivot', () => {
  it('agrees with the sort-based projection', () => {
    const rng = createRng(11);
    for (let t = 0; t < 500; t++) {
      const n = 1 + rng.int(20);
      const scale = [0.01, 1, 10][t % 3]!;
      const x = Float64Array.from({ length: n }, () => (rng.next() - 0.3) * scale);
      const a = projectToSimplex(x);
      const b = projectToSimplexPivot(x);
      for (let j = 0; j < n; j++) expect(b[j]).toBeCloseTo(a[j]!, 12);
    }
  });
});

describe('Nash solver (section 3)', () => {
  function projectedGradientNorms(model: PayoffModel, W: Float64Array, lambda: number): number[] {
    const { n } = model;
    const G = payoffGradient(model, W);
    const norms: number[] = [];
    for (let i = 0; i < n; i++) {
      const row = Float64Array.from({ length: n }, (_, j) => W[i * n + j]! + lambda * G[i * n + j]!);
      const p = projectToSimplex(row);
      let sq = 0;
      for (let j = 0; j < n; j++) sq += (p[j]! - W[i * n + j]!) ** 2;
      norms.push(Math.sqrt(sq) / lambda);
    }
    return norms;
  }

  it('with no loss term every peer keeps all weight on itself (W = I)', () => {
    const n = 5;
    const model = randomModel(n, 12, { alpha: 0, tau: 1 });
    const r = solveNash(model, randomSimplexMatrix(createRng(13), n));
    expect(r.converged).toBe(true);
    for (let i = 0; i < n; i++) expect(r.W[i * n + i]).toBe(1);
  });

  it('stops at once when the start is already an equilibrium (no inflation, reference = start)', () => {
    const n = 5;
    const W0 = randomSimplexMatrix(createRng(14), n);
    const base = randomModel(n, 15, { tau: 0 });
    const ref = competitiveMask(W0, base.stake, n, base.temperature);
    const r = solveNash({ ...base, referenceMask: ref }, W0);
    expect(r.steps).toBe(1);
    expect(r.converged).toBe(true);
    // the result is W0 after one zero-gradient step: its projection, W0 up to rounding
    for (let k = 0; k < n * n; k++) expect(r.W[k]).toBeCloseTo(W0[k]!, 14);
  });

  it('ends at a point where every row is stationary up to epsilon, and no peer gains by deviating', () => {
    const n = 6;
    const model = randomModel(n, 16, {
      alpha: 5,
      tau: 1,
      temperature: 0.5,
      referenceMask: new Float64Array(36).fill(1),
    });
    const epsilon = 1e-5;
    const r = solveNash(model, randomSimplexMatrix(createRng(17), n), {
      epsilon,
      maxSteps: 200_000,
      stoppingNorm: 'row',
    });
    expect(r.converged).toBe(true);
    for (const norm of projectedGradientNorms(model, r.W, 0.005)) expect(norm).toBeLessThan(epsilon);
    // unilateral deviations along random feasible directions do not pay (beyond O(eps*delta))
    const rng = createRng(18);
    for (let i = 0; i < n; i++) {
      const base = payoff(model, r.W, i);
      for (let t = 0; t < 20; t++) {
        const target = randomSimplexMatrix(rng, n).subarray(0, n);
        const W = Float64Array.from(r.W);
        for (let j = 0; j < n; j++) W[i * n + j] = 0.99 * W[i * n + j]! + 0.01 * target[j]!;
        expect(payoff(model, W, i)).toBeLessThanOrEqual(base + 1e-6);
      }
    }
  }, 60_000);

  it('hits the 1000*n step cap when epsilon is unreachable, and is deterministic', () => {
    const n = 3;
    const model = randomModel(n, 19);
    const W0 = randomSimplexMatrix(createRng(20), n);
    const a = solveNash(model, W0, { epsilon: 0 });
    expect(a.steps).toBe(3000);
    expect(a.converged).toBe(false);
    const solver = new NashSolver(n);
    const b = solver.solve(model, W0, { epsilon: 0 });
    const c = solver.solve(model, W0, { epsilon: 0 });
    expect(Array.from(b.W)).toEqual(Array.from(a.W));
    expect(Array.from(c.W)).toEqual(Array.from(a.W));
  });

  it('keeps every row on the simplex', () => {
    const n = 7;
    const model = randomModel(n, 21, { alpha: 2 });
    const r = solveNash(model, randomSimplexMatrix(createRng(22), n), { maxSteps: 500 });
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) {
        expect(r.W[i * n + j]).toBeGreaterThanOrEqual(0);
        s += r.W[i * n + j]!;
      }
      expect(s).toBeCloseTo(1, 12);
    }
  });

  it('rejects bad input', () => {
    const model = randomModel(3, 23);
    expect(() => solveNash(model, new Float64Array(4))).toThrow(RangeError);
    expect(() => solveNash({ ...model, temperature: 0 }, new Float64Array(9))).toThrow(RangeError);
    expect(() => new NashSolver(4).solve(model, new Float64Array(9))).toThrow(RangeError);
  });
});
