import type { Rng } from './rng.js';

/**
 * Random inputs of the section 3 experiments: positive semi-definite
 * per-peer Hessians H_i and uniformly random initial weights W0.
 */

/**
 * n Hessians, each n×n, stored back to back (H_i starts at i·n·n), drawn as
 * a Wishart matrix A_i A_iᵀ with A_i an n×k matrix of i.i.d. N(0,1) entries
 * (k = n by default), then scaled to unit trace: H_i = A_i A_iᵀ / tr(A_i A_iᵀ).
 *
 * AAᵀ is PSD by construction (xᵀAAᵀx = ‖Aᵀx‖² ≥ 0). Unit trace gives every
 * peer the same total curvature (no peer's loss is "louder" than another's)
 * and makes the ideal rank of eq (2) sum to exactly 1, like the competitive
 * rank R* with S = 1, so both live on the same scale (≈ 1/n per peer) and
 * α/τ means the same thing at every n. Pass `normalize: false` for the raw
 * AAᵀ/k (E[H] = I).
 */
export function randomPsdHessians(
  rng: Rng,
  n: number,
  k: number = n,
  options: { normalize?: boolean } = {},
): Float64Array {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  const nn = n * n;
  const H = new Float64Array(n * nn);
  const A = new Float64Array(n * k);
  const invK = 1 / k;
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < A.length; t++) A[t] = rng.normal();
    const base = i * nn;
    for (let a = 0; a < n; a++) {
      const ra = a * k;
      for (let b = a; b < n; b++) {
        const rb = b * k;
        let acc = 0;
        for (let t = 0; t < k; t++) acc += A[ra + t]! * A[rb + t]!;
        acc *= invK;
        H[base + a * n + b] = acc;
        H[base + b * n + a] = acc;
      }
    }
    if (options.normalize !== false) {
      let trace = 0;
      for (let a = 0; a < n; a++) trace += H[base + a * n + a]!;
      const inv = 1 / trace;
      for (let t = base; t < base + nn; t++) H[t]! *= inv;
    }
  }
  return H;
}

/**
 * An n×n matrix whose rows are drawn uniformly from the probability simplex
 * (Dirichlet(1,…,1): normalised i.i.d. exponentials). "Uniform random
 * initial weights" that already satisfy the row constraint of section 1.3.
 */
export function randomSimplexMatrix(rng: Rng, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  const W = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const e = -Math.log(1 - rng.next()); // 1 - u in (0, 1]: log is finite
      W[i * n + j] = e;
      sum += e;
    }
    for (let j = 0; j < n; j++) W[i * n + j]! /= sum;
  }
  return W;
}
