import { checkSquare } from './rank.js';

/** Σ diag(W) and Σ W of a square row-major matrix, the two sums both readings need. */
function diagonalAndTotal(W: Float64Array, n: number): { diag: number; total: number } {
  checkSquare(W, n);
  let diag = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const base = i * n;
    for (let j = 0; j < n; j++) total += W[base + j]!;
    diag += W[base + i]!;
  }
  return { diag, total };
}

/**
 * Sparsity of eq (17): Σ diag(W) / Σ W. It is 1 when every peer keeps all its
 * weight on itself (W = I, the disconnected network of Fig 4a) and 1/n for
 * the uniform matrix. Returns 0 for an all-zero matrix.
 */
export function sparsity(W: Float64Array, n: number): number {
  const { diag, total } = diagonalAndTotal(W, n);
  return total === 0 ? 0 : diag / total;
}

/**
 * The other reading of section 3's wording, "the ratio between the main
 * diagonal and the remaining weights": Σ diag(W) / Σ offdiag(W), in [0, ∞).
 * Infinity when all weight is on the diagonal (W = I).
 */
export function diagonalToOffDiagonalRatio(W: Float64Array, n: number): number {
  const { diag, total } = diagonalAndTotal(W, n);
  const off = total - diag;
  if (off <= 0) return diag > 0 ? Number.POSITIVE_INFINITY : 0;
  return diag / off;
}
