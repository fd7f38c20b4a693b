/**
 * Peer i's scores of its peers, its row of W (§1.3, eq 3; §1.7 "its weights
 * act as a proxy for importance"). Two signals per expert slot:
 *   - gate importance  Σ_batch g_j(x), an EMA of its per-batch share   (§1.7)
 *   - the removal cost of eq 3 WITH its first-order term, an EMA of
 *       mean_b ( −d_b + ½ d_b² ),   d_b = ∂L_i(x_b)/∂f_j(x_b) · f_j(x_b)
 *     Removing j is ΔF = −f_j; Taylor to second order with H ≈ the empirical
 *     Fisher gives ΔL ≈ −d + ½ d². The paper drops −d because it assumes a
 *     converged network (∂L/∂F = 0). Mid-training that term carries the sign:
 *     the Fisher half alone scores a peer answering NOISE high (its answers
 *     have large gradients), whereas an expert whose answers hurt has d > 0 on
 *     average, removing it lowers the loss, and its clipped cost is 0.
 *     The EMA is of the signed value; it is clipped at 0 before normalising.
 * mixed half/half, mapped from slots to ledger uids and projected onto the simplex with
 * packages/mechanism; once per block the row moves towards it by at most ε
 * (boundRowStep), which is what the ledger accepts.
 */
import { boundRowStep, projectToSimplex } from '@peerbench/mechanism';

export interface ScorerOptions {
  slots: number;
  /** EMA decay per step (0.95 ≈ the last 20 steps). */
  emaDecay: number;
  /** Weight of gate importance vs the removal cost in the score, in [0, 1]. */
  importanceShare: number;
}

export const DEFAULT_SCORER_OPTIONS: Omit<ScorerOptions, 'slots'> = { emaDecay: 0.95, importanceShare: 0.5 };

/** The ledger checks ‖ΔW_i‖₂ ≤ ε exactly after fixed-point rounding; stay a hair inside. */
const EPSILON_MARGIN = 0.999;

function normalise(v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(v.length);
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += Math.max(0, Number.isFinite(v[i]!) ? v[i]! : 0);
  if (!(sum > 0)) return out;
  for (let i = 0; i < v.length; i++) out[i] = Math.max(0, Number.isFinite(v[i]!) ? v[i]! : 0) / sum;
  return out;
}

/**
 * Eq 3 with the first-order term, for one slot and one batch: mean over the
 * batch of −d_b + ½ d_b², where `d[b] = ∂L_i(x_b)/∂f_j(x_b) · f_j(x_b)` is the
 * per-example directional derivative (rows where j gave nothing have d = 0).
 * Signed: negative means removing j would lower the loss.
 */
export function removalCost(d: ArrayLike<number>): number {
  if (d.length === 0) return 0;
  let sum = 0;
  for (let b = 0; b < d.length; b++) {
    const v = d[b]!;
    if (Number.isFinite(v)) sum += -v + 0.5 * v * v;
  }
  return sum / d.length;
}

export class Scorer {
  /** EMA of each slot's per-batch share of Σ_batch g_j(x). */
  readonly importance: Float64Array;
  /** EMA of each slot's signed removal cost (`removalCost`), raw scale. */
  readonly removal: Float64Array;
  private observed = 0;

  constructor(private readonly opts: ScorerOptions) {
    this.importance = new Float64Array(opts.slots);
    this.removal = new Float64Array(opts.slots);
  }

  /**
   * One step's per-slot gate importance (any scale; normalised to a share
   * first) and signed removal costs (kept raw and signed so that a slot whose
   * cost swings around 0 averages to ≈ 0 instead of collecting the positive
   * swings).
   */
  observe(importance: ArrayLike<number>, removal: ArrayLike<number>): void {
    const imp = normalise(importance);
    // The first observation seeds the EMA instead of being damped towards 0.
    const a = this.observed === 0 ? 0 : this.opts.emaDecay;
    for (let s = 0; s < this.opts.slots; s++) {
      const r = removal[s] ?? 0;
      this.importance[s] = a * this.importance[s]! + (1 - a) * imp[s]!;
      this.removal[s] = a * this.removal[s]! + (1 - a) * (Number.isFinite(r) ? r : 0);
    }
    this.observed++;
  }

  /** A slot was given to a new peer: its history is not that peer's. */
  resetSlot(slot: number): void {
    this.importance[slot] = 0;
    this.removal[slot] = 0;
  }

  /** Removal cost share per slot: the EMA clipped at 0, normalised (an expert that hurts gets 0). */
  removalShares(): Float64Array {
    return normalise(this.removal);
  }

  /** Gate importance share per slot (sums to 1 once anything was observed). */
  gateWeights(): Float64Array {
    return normalise(this.importance);
  }

  /** Combined score per slot, on the simplex over slots. */
  slotScores(): Float64Array {
    const imp = normalise(this.importance);
    const rem = this.removalShares();
    const beta = this.opts.importanceShare;
    const mixed = new Float64Array(this.opts.slots);
    for (let s = 0; s < mixed.length; s++) mixed[s] = beta * imp[s]! + (1 - beta) * rem[s]!;
    return normalise(mixed);
  }

  /**
   * The row this peer would like, over `nUids` ledger uids: slot scores moved
   * to their peers' uids (slots without a uid drop out) and projected onto
   * the simplex. With nothing scored yet it is all self-weight.
   */
  targetRow(slotUid: ReadonlyArray<number | null>, selfUid: number, nUids: number): Float64Array {
    const scores = this.slotScores();
    const row = new Float64Array(nUids);
    for (let s = 0; s < slotUid.length; s++) {
      const uid = slotUid[s];
      if (uid !== null && uid !== undefined && uid < nUids) row[uid]! += scores[s] ?? 0;
    }
    if (!row.some((w) => w > 0)) row[selfUid] = 1;
    return projectToSimplex(row);
  }
}

/**
 * The row to submit this block: from the ledger's current row towards the
 * target, no further than ε (§1.3). A peer without a row yet starts from all
 * self-weight (what registration gives it).
 */
export function nextWeightRow(
  current: Float64Array,
  target: Float64Array,
  selfUid: number,
  epsilon: number,
): Float64Array {
  let old = current;
  if (!current.some((w) => w > 0)) {
    old = new Float64Array(target.length);
    old[selfUid] = 1;
  }
  return boundRowStep(old, target, epsilon * EPSILON_MARGIN);
}

/** Sparse (uid, weight) pairs of a dense row, zeros dropped. */
export function sparseRow(row: Float64Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let j = 0; j < row.length; j++) if (row[j]! > 0) out.push([j, row[j]!]);
  return out;
}
