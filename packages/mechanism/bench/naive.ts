import { competitiveMask } from '../src/mask.js';
import type { PayoffModel } from '../src/payoff.js';
import { projectToSimplex } from '../src/simplex.js';

/**
 * The straightforward reference implementation of one simultaneous
 * projected-gradient step, kept as the benchmark's baseline: it allocates
 * the mask matrix, every row's vectors and the new W on each step, uses a
 * single-accumulator matrix-vector product and the sort-based projection.
 * Same maths as NashSolver.step (the benchmark checks they agree).
 */
export function naiveStep(
  model: PayoffModel,
  W: Float64Array,
  lambda: number,
): { W: Float64Array; maxNorm: number } {
  const { n, stake, hessians, referenceMask, temperature, alpha, tau } = model;
  const M = competitiveMask(W, stake, n, temperature);
  const next = new Float64Array(n * n);
  let maxNorm = 0;
  for (let i = 0; i < n; i++) {
    const m = M.slice(i * n, i * n + n);
    const d = m.map((v, j) => v - referenceMask[i * n + j]!);
    const H = hessians.subarray(i * n * n, (i + 1) * n * n);
    const Hd = new Float64Array(n);
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) Hd[j]! += H[j * n + k]! * d[k]!;
    const grad = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const dm = (m[j]! * (1 - m[j]!) * stake[i]! * (1 - 1 / n)) / temperature;
      grad[j] = -alpha * 2 * Hd[j]! * dm + (j === i ? (tau * stake[i]!) / n : 0);
    }
    const row = W.slice(i * n, i * n + n).map((w, j) => w + lambda * grad[j]!);
    const p = projectToSimplex(row);
    let sq = 0;
    for (let j = 0; j < n; j++) sq += (p[j]! - W[i * n + j]!) ** 2;
    maxNorm = Math.max(maxNorm, Math.sqrt(sq) / lambda);
    next.set(p, i * n);
  }
  return { W: next, maxNorm };
}
