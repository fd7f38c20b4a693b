/**
 * Peer i's scores of its peers, its row of W (§1.3, eq 3; §1.7 "its weights
 * act as a proxy for importance"). Two signals per expert slot, each an EMA
 * of a per-batch share:
 *   - gate importance  Σ_batch g_j(x)                         (§1.7)
 *   - the Fisher term  mean_batch (∂L_i/∂f_j(x) · f_j(x))²      (eq 3 with the
 *     empirical Fisher for H and ΔF = −f_j: the second-order cost of removing j)
 * mixed, mapped from slots to ledger uids and projected onto the simplex with
 * packages/mechanism; once per block the row moves towards it by at most ε
 * (boundRowStep), which is what the ledger accepts.
 */
import { boundRowStep, projectToSimplex } from '@peerbench/mechanism';

export interface ScorerOptions {
  slots: number;
  /** EMA decay per step (0.95 ≈ the last 20 steps). */
  emaDecay: number;
  /** Weight of gate importance vs the Fisher term in the score, in [0, 1]. */
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

export class Scorer {
  readonly importance: Float64Array;
  readonly fisher: Float64Array;
  private observed = 0;

  constructor(private readonly opts: ScorerOptions) {
    this.importance = new Float64Array(opts.slots);
    this.fisher = new Float64Array(opts.slots);
  }

  /** One step's raw per-slot importance and Fisher terms (any scale; each is normalised first). */
  observe(importance: ArrayLike<number>, fisher: ArrayLike<number>): void {
    const imp = normalise(importance);
    const fis = normalise(fisher);
    // The first observation seeds the EMA instead of being damped towards 0.
    const a = this.observed === 0 ? 0 : this.opts.emaDecay;
    for (let s = 0; s < this.opts.slots; s++) {
      this.importance[s] = a * this.importance[s]! + (1 - a) * imp[s]!;
      this.fisher[s] = a * this.fisher[s]! + (1 - a) * fis[s]!;
    }
    this.observed++;
  }

  /** A slot was given to a new peer: its history is not that peer's. */
  resetSlot(slot: number): void {
    this.importance[slot] = 0;
    this.fisher[slot] = 0;
  }

  /** Gate importance share per slot (sums to 1 once anything was observed). */
  gateWeights(): Float64Array {
    return normalise(this.importance);
  }

  /** Combined score per slot, on the simplex over slots. */
  slotScores(): Float64Array {
    const imp = normalise(this.importance);
    const fis = normalise(this.fisher);
    const beta = this.opts.importanceShare;
    const mixed = new Float64Array(this.opts.slots);
    for (let s = 0; s < mixed.length; s++) mixed[s] = beta * imp[s]! + (1 - beta) * fis[s]!;
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
