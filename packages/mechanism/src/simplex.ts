/**
 * Rows of W live on the probability simplex (w_ij ≥ 0, Σ_j w_ij = 1, section
 * 1.3), and each block may move a row by at most ε in L2 norm.
 */

// Scratch for the sort; grown on demand so projecting in a hot loop allocates
// nothing after the first call with a given size.
let sortScratch = new Float64Array(64);

/**
 * Euclidean projection of `row` onto the simplex {x ≥ 0, Σx = 1}
 * (sort-based algorithm of Held et al. 1974 / Duchi et al. 2008):
 * sort descending u, find the largest k with u_k − (Σ_{r≤k} u_r − 1)/k > 0,
 * θ = (Σ_{r≤k} u_r − 1)/k, x = max(row − θ, 0). O(n log n).
 * `out` may alias `row`.
 */
export function projectToSimplex(row: Float64Array, out?: Float64Array): Float64Array {
  const n = row.length;
  if (n === 0) throw new RangeError('cannot project an empty row onto the simplex');
  const result = out ?? new Float64Array(n);
  if (sortScratch.length < n) sortScratch = new Float64Array(Math.max(n, sortScratch.length * 2));
  const u = sortScratch.subarray(0, n);
  for (let j = 0; j < n; j++) {
    const v = row[j]!;
    if (!Number.isFinite(v)) throw new RangeError(`row entry ${j} is not finite (${v})`);
    u[j] = v;
  }
  u.sort(); // ascending; walk it from the end for the descending order
  let cumulative = 0;
  let theta = 0;
  for (let k = 1; k <= n; k++) {
    const v = u[n - k]!;
    cumulative += v;
    const t = (cumulative - 1) / k;
    if (v - t > 0) theta = t;
    else break;
  }
  for (let j = 0; j < n; j++) {
    const v = row[j]! - theta;
    result[j] = Math.max(v, 0);
  }
  return result;
}

/**
 * Bounded row update (section 1.3, ‖ΔW_i‖₂ ≤ ε): move from `oldRow` towards
 * `newRow`, but no further than ε in L2 distance. The result is the convex
 * combination old + t·(new − old), t = min(1, ε/‖new − old‖₂), so it stays on
 * the simplex when both ends are on it. `out` may alias either input.
 */
export function boundRowStep(
  oldRow: Float64Array,
  newRow: Float64Array,
  epsilon: number,
  out?: Float64Array,
): Float64Array {
  const n = oldRow.length;
  if (newRow.length !== n) throw new RangeError(`rows differ in length: ${n} vs ${newRow.length}`);
  if (!(epsilon >= 0)) throw new RangeError(`epsilon must be >= 0, got ${epsilon}`);
  const result = out ?? new Float64Array(n);
  let sq = 0;
  for (let j = 0; j < n; j++) {
    const d = newRow[j]! - oldRow[j]!;
    sq += d * d;
  }
  const dist = Math.sqrt(sq);
  const t = dist <= epsilon ? 1 : epsilon / dist;
  for (let j = 0; j < n; j++) {
    const o = oldRow[j]!;
    result[j] = o + t * (newRow[j]! - o);
  }
  return result;
}

/** L2 distance between two rows. */
export function rowDistance(a: Float64Array, b: Float64Array): number {
  let sq = 0;
  for (let j = 0; j < a.length; j++) {
    const d = a[j]! - b[j]!;
    sq += d * d;
  }
  return Math.sqrt(sq);
}

/** Passes of Michelot's pivoting per entry of the row before it stops at the current θ. */
const PIVOT_MAX_PASSES_PER_ENTRY = 4;

/**
 * Same projection as `projectToSimplex`, by Michelot's (1986) pivoting
 * instead of a sort: θ starts at (Σx − 1)/n and is recomputed over the
 * entries still above it until the active set stops shrinking. θ only grows,
 * so entries once dropped never come back; a row that is a small step away
 * from the simplex (the solver's case) settles in 2-3 linear passes with no
 * scratch memory, several times faster than sorting.
 * `out` may alias `row`. Only the first `n` entries are used (default: all).
 */
export function projectToSimplexPivot(row: Float64Array, out?: Float64Array, n = row.length): Float64Array {
  if (n === 0) throw new RangeError('cannot project an empty row onto the simplex');
  const result = out ?? new Float64Array(n);
  let sum = 0;
  for (let j = 0; j < n; j++) sum += row[j]!;
  if (!Number.isFinite(sum)) throw new RangeError('row has a non-finite entry');
  let count = n;
  let theta = (sum - 1) / n;
  // In exact arithmetic the count only falls, so at most n passes. Rounding
  // can make it rise by one and fall back, which without a bound cycled
  // forever (the likely cause of a CI run stuck at 100 % CPU in this package's
  // fast-check tests); the bound ends such a
  // cycle at the current θ and leaves every terminating case bit for bit as it was.
  for (let pass = 0; pass < PIVOT_MAX_PASSES_PER_ENTRY * n + 4; pass++) {
    let s = 0;
    let c = 0;
    for (let j = 0; j < n; j++) {
      const v = row[j]!;
      if (v > theta) {
        s += v;
        c++;
      }
    }
    // c >= 1 always: the largest entry exceeds the mean-based θ.
    const next = (s - 1) / c;
    if (c === count) {
      theta = next;
      break;
    }
    count = c;
    theta = next;
  }
  for (let j = 0; j < n; j++) result[j] = Math.max(row[j]! - theta, 0);
  return result;
}

/**
 * `projectToSimplexPivot(row, out, n)`, started from a guess: the support of
 * the current row W[wb..wb+n) (a projected-gradient step rarely changes it).
 * θ = (Σ_{w_j>0} v_j − 1)/|support| summed in index order; if exactly the
 * entries v_j > θ are the guessed ones, θ is the fixed point Michelot's
 * pivoting ends on (the same set summed in the same order, so the same bits)
 * and the projection is max(v − θ, 0). Otherwise the full pivoting runs.
 * Saves the 3-4 passes with unpredictable branches that cost more than the
 * rest of a sparse row's step.
 */
export function projectFromSupport(
  row: Float64Array,
  W: Float64Array,
  wb: number,
  out: Float64Array,
  n: number,
): void {
  let sum = 0;
  let count = 0;
  for (let j = 0; j < n; j++) {
    if (W[wb + j]! > 0) {
      sum += row[j]!;
      count++;
    }
  }
  projectWithSupportSum(row, W, wb, out, n, sum, count);
}

/** `projectFromSupport` with the support's sum and size already taken (index order). */
function projectWithSupportSum(
  row: Float64Array,
  W: Float64Array,
  wb: number,
  out: Float64Array,
  n: number,
  sum: number,
  count: number,
): void {
  if (count > 0) {
    const theta = (sum - 1) / count;
    // One pass: write max(v − θ, 0) and check the guess (v > θ exactly on the support).
    let disagree = 0;
    for (let j = 0; j < n; j++) {
      const x = row[j]! - theta;
      out[j] = Math.max(x, 0);
      disagree |= (row[j]! > theta ? 1 : 0) ^ (W[wb + j]! > 0 ? 1 : 0);
    }
    if (disagree === 0) return;
  }
  projectToSimplexPivot(row, out, n);
}

/**
 * Takes a projected row as the next W: Wnext[base + j] = projected[j], and
 * the step's size into norms: norms[0] = Σ_j Δ_j², norms[1] = max_j |Δ_j|
 * with Δ = projected − W[base..base+n) (the stopping norms' raw parts).
 */
export function takeProjectedRow(
  projected: Float64Array,
  W: Float64Array,
  Wnext: Float64Array,
  base: number,
  n: number,
  norms: Float64Array,
): void {
  let sq = 0;
  let maxAbs = 0;
  for (let j = 0; j < n; j++) {
    const v = projected[j]!;
    const dlt = v - W[base + j]!;
    sq += dlt * dlt;
    const ad = Math.abs(dlt);
    if (ad > maxAbs) maxAbs = ad;
    Wnext[base + j] = v;
  }
  norms[0] = sq;
  norms[1] = maxAbs;
}
