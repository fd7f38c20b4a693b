/**
 * Peer i's scores of its peers, its row of W (§1.3, eq 3; §1.7 "its weights
 * act as a proxy for importance").
 *
 * Default (`removalSource: 'validation'`, DESIGN.md step 6): w_ij is the cost
 * of removing j measured exactly on a validation slice of D_i that is never
 * trained on (removal-cost.ts: per-example loss with slot j zeroed, the gate
 * held fixed, minus the loss with it), summed over every scoring pass of the
 * last `windowBlocks` complete blocks, clipped at 0 and normalised. Only
 * slots answered by their peer count: a stand-in's contribution is not
 * credited to the absent peer. Gate importance is kept for display and gets
 * no share of the score by default: the CV² balance loss pushes Σ_b g_bj
 * towards uniform, which is exactly what it would read (issue 13: per-row
 * Spearman(gate_i, Δ_i) ≈ −0.07).
 *
 * Legacy (`removalSource: 'training'`), kept to compare against:
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

/** Where the removal costs come from (see the file comment). */
export type RemovalSource = 'validation' | 'training';

export interface ScorerOptions {
  slots: number;
  /** EMA decay per step (0.95 ≈ the last 20 steps) of gate importance and of the 'training' removal cost. */
  emaDecay: number;
  /** Weight of gate importance vs the removal cost in the score, in [0, 1]. */
  importanceShare: number;
  removalSource: RemovalSource;
  /** 'validation': complete blocks whose measured costs make up the score. */
  windowBlocks: number;
}

export const DEFAULT_SCORER_OPTIONS: Omit<ScorerOptions, 'slots'> = {
  emaDecay: 0.95,
  importanceShare: 0,
  removalSource: 'validation',
  windowBlocks: 3,
};

/** Summed per-example removal costs and how many examples were scored, per slot. */
interface CostSums {
  sum: Float64Array;
  rows: Float64Array;
}

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
  /** 'validation': the block being measured, then the complete blocks (newest first). */
  private current: CostSums;
  private readonly window: CostSums[] = [];

  constructor(private readonly opts: ScorerOptions) {
    this.importance = new Float64Array(opts.slots);
    this.removal = new Float64Array(opts.slots);
    this.current = { sum: new Float64Array(opts.slots), rows: new Float64Array(opts.slots) };
  }

  get removalSource(): RemovalSource {
    return this.opts.removalSource;
  }

  /**
   * One validation pass: per slot, the summed per-example removal cost over
   * `rows` examples (examples not routed to the slot cost 0 and still count),
   * and whether the slot was answered by its own peer (false: absent, served
   * by a stand-in, or ablated for another reason: nothing is credited).
   */
  observeValidation(costSums: ArrayLike<number>, rows: number, credited: ArrayLike<boolean>): void {
    for (let s = 0; s < this.opts.slots; s++) {
      if (!credited[s]) continue;
      const c = costSums[s] ?? 0;
      if (!Number.isFinite(c)) continue;
      this.current.sum[s]! += c;
      this.current.rows[s]! += rows;
    }
  }

  /** A block ended: the costs measured since the last one join the window (the oldest leaves). */
  closeBlock(): void {
    this.window.unshift(this.current);
    this.window.length = Math.min(this.window.length, Math.max(1, this.opts.windowBlocks));
    this.current = { sum: new Float64Array(this.opts.slots), rows: new Float64Array(this.opts.slots) };
  }

  /**
   * Mean removal cost per slot over the window's complete blocks (signed; 0
   * where nothing was measured). Falls back to the block in progress while no
   * block is complete.
   */
  validationCosts(): Float64Array {
    const out = new Float64Array(this.opts.slots);
    const parts = this.window.length > 0 ? this.window : [this.current];
    for (let s = 0; s < this.opts.slots; s++) {
      let sum = 0;
      let rows = 0;
      for (const p of parts) {
        sum += p.sum[s]!;
        rows += p.rows[s]!;
      }
      out[s] = rows > 0 ? sum / rows : 0;
    }
    return out;
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
    const training = this.opts.removalSource === 'training';
    for (let s = 0; s < this.opts.slots; s++) {
      const r = removal[s] ?? 0;
      this.importance[s] = a * this.importance[s]! + (1 - a) * imp[s]!;
      if (training) this.removal[s] = a * this.removal[s]! + (1 - a) * (Number.isFinite(r) ? r : 0);
    }
    this.observed++;
  }

  /** A slot was given to a new peer: its history is not that peer's. */
  resetSlot(slot: number): void {
    this.importance[slot] = 0;
    this.removal[slot] = 0;
    for (const p of [this.current, ...this.window]) {
      p.sum[slot] = 0;
      p.rows[slot] = 0;
    }
  }

  /** Removal cost share per slot: the measured (or EMA) cost clipped at 0, normalised (an expert that hurts gets 0). */
  removalShares(): Float64Array {
    return normalise(this.opts.removalSource === 'validation' ? this.validationCosts() : this.removal);
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
    for (let s = 0; s < mixed.length; s++) mixed[s] = (beta > 0 ? beta * imp[s]! : 0) + (1 - beta) * rem[s]!;
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
