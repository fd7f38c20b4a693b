import { columnShift } from './mask.js';
import { checkSquare } from './rank.js';

/**
 * The payoff of section 2.1-2.2 and its gradient, eq (12)-(16).
 *
 * Peer i's payoff (eq 12 with U(L) = −α L):
 *   P_i(W) = −α · L_i(W) + τ · R_i(W)
 *   L_i(W) = (m_i(W) − m⁰_i)ᵀ H_i (m_i(W) − m⁰_i)                    (eq 16)
 *   m_ij(W) = σ((s_i w_ij − μ_j)/T),  μ_j = (1/n) Σ_k s_k w_kj         (eq 7-8)
 *   R_i(W) = (1/n) Σ_k s_k w_ki                                       (eq 5)
 *
 * Sign convention: U(L) is a utility, so it falls as the loss rises:
 * ∂U/∂L = −α with α > 0 (the paper writes "= α" for the magnitude). Peers
 * *ascend* P_i, i.e. they trade loss against inflation.
 *
 * F_W of eq (16) is peer i's masked input vector. With unit-scale
 * representations f_j = 1 (their scale is folded into H_i) it is the mask row
 * m_i itself; F_W0 = m⁰_i is the `referenceMask` row i (see the README for
 * the readings of "W0"; the simulator's default is described there).
 *
 * Gradient with respect to peer i's own row (other rows held fixed, as each
 * peer only controls its row; eq 14):
 *   ∂m_ij/∂w_ij = m_ij (1 − m_ij) · s_i (1 − 1/n) / T      (w_ij also moves μ_j by s_i/n)
 *   ∂m_ik/∂w_ij = 0 for k ≠ j
 *   ∂L_i/∂w_ij = 2 (H_i d_i)_j · ∂m_ij/∂w_ij,  d_i = m_i − m⁰_i   (H_i symmetric)
 *   ∂R_i/∂w_ij = δ_ij · s_i / n
 *   ∂P_i/∂w_ij = −α ∂L_i/∂w_ij + τ ∂R_i/∂w_ij
 *
 * Eq (15) is this divided by τ: the Fig 4 experiments set τ = 1 and α = α/τ
 * (same ascent direction, and λ applies to ∂P/∂W exactly as eq 15 writes
 * it); Fig 5 keeps α = 1 and lets the controller move τ.
 */
export interface PayoffModel {
  /** Number of peers. */
  readonly n: number;
  /** α: weight of the loss term (∂U/∂L = −α). Fig 4 uses α = α/τ with τ = 1. */
  readonly alpha: number;
  /** τ: weight of the inflation term (the inflation rate of eq 6). */
  readonly tau: number;
  /** Mask temperature T of eq (8). */
  readonly temperature: number;
  /** Stake vector S (n). */
  readonly stake: Float64Array;
  /** H_0 … H_{n−1}, each n×n row-major and symmetric PSD, back to back (n³ entries). */
  readonly hessians: Float64Array;
  /** F_W0: row i is the reference (minimum-loss) mask vector of peer i (n×n). */
  readonly referenceMask: Float64Array;
}

export function validateModel(model: PayoffModel): void {
  const { n } = model;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`n must be an integer >= 2, got ${n}`);
  if (!(model.temperature > 0)) throw new RangeError(`temperature must be > 0, got ${model.temperature}`);
  if (!(model.alpha >= 0) || !Number.isFinite(model.alpha))
    throw new RangeError(`alpha must be >= 0, got ${model.alpha}`);
  if (!(model.tau >= 0) || !Number.isFinite(model.tau))
    throw new RangeError(`tau must be >= 0, got ${model.tau}`);
  if (model.stake.length !== n) throw new RangeError(`stake needs ${n} entries, got ${model.stake.length}`);
  if (model.hessians.length !== n * n * n) throw new RangeError(`hessians need n^3 = ${n ** 3} entries`);
  if (model.referenceMask.length !== n * n)
    throw new RangeError(`referenceMask needs n^2 = ${n * n} entries`);
}

/** Loss L_i(W) of eq (16) for one peer. */
export function rowLoss(model: PayoffModel, W: Float64Array, i: number): number {
  const { n, stake, hessians, referenceMask, temperature } = model;
  checkSquare(W, n);
  const mu = columnShift(W, stake, n);
  const d = new Float64Array(n);
  const s = stake[i]!;
  for (let j = 0; j < n; j++) {
    const m = 1 / (1 + Math.exp(-(s * W[i * n + j]! - mu[j]!) / temperature));
    d[j] = m - referenceMask[i * n + j]!;
  }
  const base = i * n * n;
  let L = 0;
  for (let j = 0; j < n; j++) {
    let acc = 0;
    for (let k = 0; k < n; k++) acc += hessians[base + j * n + k]! * d[k]!;
    L += d[j]! * acc;
  }
  return L;
}

/** Payoff P_i(W) of eq (12) under the empirical model. */
export function payoff(model: PayoffModel, W: Float64Array, i: number): number {
  const { n, stake } = model;
  let R = 0;
  for (let k = 0; k < n; k++) R += stake[k]! * W[k * n + i]!;
  R /= n;
  return -model.alpha * rowLoss(model, W, i) + model.tau * R;
}

/**
 * Reusable buffers for the gradient, so the solver's inner loop allocates
 * nothing. One workspace per model size.
 */
export class PayoffWorkspace {
  readonly n: number;
  /** μ of eq (7). */
  readonly mu: Float64Array;
  /** Current mask row. */
  readonly maskRow: Float64Array;
  /** d = m_i − m⁰_i. */
  readonly diff: Float64Array;
  constructor(n: number) {
    this.n = n;
    this.mu = new Float64Array(n);
    this.maskRow = new Float64Array(n);
    this.diff = new Float64Array(n);
  }
}

/**
 * Writes ∂P_i/∂W_i for peer i into `out[0..n)`, given μ already computed for
 * W in `ws.mu`. Returns L_i as a by-product (it is nearly free here).
 */
export function rowPayoffGradient(
  model: PayoffModel,
  W: Float64Array,
  i: number,
  ws: PayoffWorkspace,
  out: Float64Array,
  outOffset = 0,
): number {
  const { n, stake, hessians, referenceMask, temperature, alpha, tau } = model;
  const mu = ws.mu;
  const mrow = ws.maskRow;
  const d = ws.diff;
  const invT = 1 / temperature;
  const s = stake[i]!;
  const rowBase = i * n;
  for (let j = 0; j < n; j++) {
    const m = 1 / (1 + Math.exp((mu[j]! - s * W[rowBase + j]!) * invT));
    mrow[j] = m;
    d[j] = m - referenceMask[rowBase + j]!;
  }
  // c folds −α · 2 · s_i (1 − 1/n) / T
  const c = -alpha * 2 * s * (1 - 1 / n) * invT;
  const hBase = i * n * n;
  let L = 0;
  // The O(n²) matrix-vector product H_i d is the hot spot of the whole
  // simulator (O(n³) per step over all rows). Four rows of H at a time: each
  // d[k] load feeds four multiply-adds into four independent sums, which
  // the CPU overlaps instead of waiting on one dependency chain.
  let j = 0;
  for (; j + 3 < n; j += 4) {
    const h0 = hBase + j * n;
    const h1 = h0 + n;
    const h2 = h1 + n;
    const h3 = h2 + n;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let k = 0; k < n; k++) {
      const dk = d[k]!;
      a0 += hessians[h0 + k]! * dk;
      a1 += hessians[h1 + k]! * dk;
      a2 += hessians[h2 + k]! * dk;
      a3 += hessians[h3 + k]! * dk;
    }
    L += d[j]! * a0 + d[j + 1]! * a1 + d[j + 2]! * a2 + d[j + 3]! * a3;
    const m0 = mrow[j]!;
    const m1 = mrow[j + 1]!;
    const m2 = mrow[j + 2]!;
    const m3 = mrow[j + 3]!;
    out[outOffset + j] = c * a0 * m0 * (1 - m0);
    out[outOffset + j + 1] = c * a1 * m1 * (1 - m1);
    out[outOffset + j + 2] = c * a2 * m2 * (1 - m2);
    out[outOffset + j + 3] = c * a3 * m3 * (1 - m3);
  }
  for (; j < n; j++) {
    const hr = hBase + j * n;
    let acc = 0;
    for (let k = 0; k < n; k++) acc += hessians[hr + k]! * d[k]!;
    L += d[j]! * acc;
    const m = mrow[j]!;
    out[outOffset + j] = c * acc * m * (1 - m);
  }
  out[outOffset + i]! += (tau * s) / n;
  return L;
}

/** ∂P_i/∂W_i for every row i (eq 14), written into an n×n matrix. */
export function payoffGradient(
  model: PayoffModel,
  W: Float64Array,
  out?: Float64Array,
  ws: PayoffWorkspace = new PayoffWorkspace(model.n),
): Float64Array {
  const { n, stake } = model;
  checkSquare(W, n);
  const G = out ?? new Float64Array(n * n);
  columnShift(W, stake, n, ws.mu);
  for (let i = 0; i < n; i++) rowPayoffGradient(model, W, i, ws, G, i * n);
  return G;
}
