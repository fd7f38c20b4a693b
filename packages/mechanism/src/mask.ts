import { checkSquare, rank } from './rank.js';

/**
 * The competitive mask of section 1.5, eq (7)-(8).
 *
 * Peer j scales the representation it sends to peer i by
 *   M_ij = σ((s_i · w_ij − μ_j) / T),   μ_j = (1/n) Σ_k s_k · w_kj,
 * so a peer that weights j below j's (stake-weighted) column average gets a
 * dimmed f_j: under-weighting is punished through the loss.
 */

/**
 * Column shift μ of eq (7): μ_j = (1/n) Σ_i s_i w_ij. Numerically the same as
 * `rank` (eq 5); it gets its own name so readers of eq (7) find it.
 */
export function columnShift(W: Float64Array, S: Float64Array, n: number, out?: Float64Array): Float64Array {
  return rank(W, S, n, out);
}

/**
 * Temperature-scaled sigmoid σ((s_i w_ij − μ_j)/T) of eq (8), written so that
 * it never overflows: exp is only ever taken of a non-positive number.
 */
export function maskValue(stakeTimesWeight: number, mu: number, temperature: number): number {
  const x = (stakeTimesWeight - mu) / temperature;
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * The full n×n mask M (row-major): row i is what peer i receives from every j.
 * `out` may be passed to avoid allocation; it must hold n*n entries.
 */
export function competitiveMask(
  W: Float64Array,
  S: Float64Array,
  n: number,
  temperature: number,
  out?: Float64Array,
): Float64Array {
  checkSquare(W, n);
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  const mu = columnShift(W, S, n);
  const M = out ?? new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const s = S[i]!;
    const base = i * n;
    for (let j = 0; j < n; j++) M[base + j] = maskValue(s * W[base + j]!, mu[j]!, temperature);
  }
  return M;
}
