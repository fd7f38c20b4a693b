/**
 * The stake-weighted ranking of eq (4)-(5):
 *   R = (1/n) (Wᵀ ∘ S) · 1,  i.e.  R_j = (1/n) Σ_i s_i · w_ij.
 * W is row-major n×n: row i holds peer i's scores of every peer j.
 * With S = 1 this is eq (4), the normalised column sum of W.
 */
export function rank(W: Float64Array, S: Float64Array, n: number, out?: Float64Array): Float64Array {
  checkSquare(W, n);
  if (S.length < n) throw new RangeError(`stake vector has ${S.length} entries, need ${n}`);
  const R = out ?? new Float64Array(n);
  R.fill(0, 0, n);
  // Row-wise accumulation walks W contiguously (cache friendly).
  for (let i = 0; i < n; i++) {
    const s = S[i]!;
    const base = i * n;
    for (let j = 0; j < n; j++) R[j]! += s * W[base + j]!;
  }
  const inv = 1 / n;
  for (let j = 0; j < n; j++) R[j]! *= inv;
  return R;
}

/** Throws unless W holds at least an n×n matrix and n is a positive integer. */
export function checkSquare(W: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  if (W.length < n * n) throw new RangeError(`matrix has ${W.length} entries, need n*n = ${n * n}`);
}
