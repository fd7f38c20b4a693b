/**
 * Inflation, eq (6) / Algorithm 1:  S ← S + τ · R / ‖R‖₂.
 * Normalising R makes the total emission per block exactly τ in L2 norm,
 * whatever the scale of W and S. If R is all zero there is no direction to
 * emit along, so the stake is returned unchanged (rather than NaN).
 */
export function inflate(S: Float64Array, R: Float64Array, tau: number, out?: Float64Array): Float64Array {
  const n = S.length;
  if (R.length !== n) throw new RangeError(`stake has ${n} entries but rank has ${R.length}`);
  const result = out ?? new Float64Array(n);
  let sq = 0;
  for (let j = 0; j < n; j++) sq += R[j]! * R[j]!;
  const norm = Math.sqrt(sq);
  if (norm === 0) {
    if (result !== S) result.set(S);
    return result;
  }
  const k = tau / norm;
  for (let j = 0; j < n; j++) result[j] = S[j]! + k * R[j]!;
  return result;
}
