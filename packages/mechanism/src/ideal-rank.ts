/**
 * The ideal ranking of eq (2), for the empirical model of section 2.2.
 *
 * With ΔF_i = [0,…,−f_i,…,0] (remove peer i's input), the quadratic form
 * ΔF_iᵀ H_j ΔF_i collapses to f_i² · (H_j)_ii. In the empirical model the
 * inputs are the masks themselves with unit-scale representations (f_i = 1,
 * the scale is folded into H), so
 *   R_i = (1/n) Σ_j (H_j)_ii,
 * the average over all peers j (i itself included, as eq 2 sums over every j)
 * of the loss increase j suffers when i's input disappears. Equivalently it
 * is eq (4) applied to the "honest" weights of eq (3), w_ji = (H_j)_ii.
 *
 * `hessians` holds H_0 … H_{n−1} back to back, each n×n row-major.
 */
export function idealRank(hessians: Float64Array, n: number, out?: Float64Array): Float64Array {
  return meanOverPeers(hessians, n, out, (base, i) => hessians[base + i * n + i]!);
}

/**
 * out[x] = (1/n) Σ_p entry(H_p, x), summed over peers p in order (H_p starts
 * at `base` = p·n²): the shape of both ranks here.
 */
function meanOverPeers(
  hessians: Float64Array,
  n: number,
  out: Float64Array | undefined,
  entry: (base: number, x: number) => number,
): Float64Array {
  const nn = n * n;
  if (hessians.length < n * nn)
    throw new RangeError(`need n Hessians of n*n entries (${n * nn}), got ${hessians.length}`);
  const R = out ?? new Float64Array(n);
  R.fill(0, 0, n);
  for (let p = 0; p < n; p++) {
    const base = p * nn;
    for (let x = 0; x < n; x++) R[x]! += entry(base, x);
  }
  for (let x = 0; x < n; x++) R[x]! /= n;
  return R;
}

/** The honest weights of eq (3): w_ij = (H_i)_jj (row i = what peer i would lose without j). */
export function idealWeights(hessians: Float64Array, n: number, out?: Float64Array): Float64Array {
  const nn = n * n;
  const W = out ?? new Float64Array(nn);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) W[i * n + j] = hessians[i * nn + j * n + j]!;
  return W;
}

/**
 * Not in the paper: a diagnostic for reading Fig 4. The "coupled" value of
 * peer j to peer i is the j-th row sum of H_i, Σ_k (H_i)_jk: the first-order
 * change of i's loss gradient when j's input moves while every input moves
 * together (which is what the competitive mask does), cross terms included.
 *   C_j = (1/n) Σ_i Σ_k (H_i)_jk
 * Eq (2) keeps only the diagonal (one input removed at a time); comparing R*
 * with both shows how much of the gap comes from off-diagonal curvature.
 */
export function coupledRank(hessians: Float64Array, n: number, out?: Float64Array): Float64Array {
  return meanOverPeers(hessians, n, out, (base, j) => {
    let s = 0;
    for (let k = 0; k < n; k++) s += hessians[base + j * n + k]!;
    return s;
  });
}
