/**
 * Gate exploration for young slots (issue 14): a slot that has just got a
 * new holder is routed a share of the training batch, decaying to nothing,
 * so the caller's gate column and head block learn to read the new expert
 * (and the expert learns from the caller's gradients) before it has to win
 * top-k routing against experts the gate has known for a long time.
 *
 * Why: docs/results/swarm-newcomers.md measured that a link's weight w_ij
 * grows with its age (0.002 at 0–4 blocks, 0.037 at 20–24, 0.188 for links
 * from the network's start), for links between trained peers too, and a
 * newcomer has only young links. With the noisy top-k gate of Shazeer et al.
 * a fresh expert is routed only where its logit happens to reach the top k,
 * so it gets few rows, few gradients, and its column and head block learn
 * slowly: a rich-get-richer start.
 *
 * What: for `steps` training steps after slot s is taken (at the network's
 * start too: every slot is treated alike), each row of a training batch is,
 * with probability share_s(t) = share · (1 − t/steps), t = steps since the
 * take, routed to s in addition to the gate's choice: s replaces the
 * lowest-ranked chosen remote slot of that row (self, slot 0, is kept when
 * another slot can give way), so every row still has exactly k experts. A
 * row gets at most one forced slot (when several slots are young the shares
 * split the rows; their sum is capped at 1). The gate values stay the plain
 * softmax over the chosen slots' logits (gate.ts), so gradients reach s's
 * column and head block exactly as for an expert the gate chose itself.
 *
 * Only the training step explores. Evaluation and the scoring passes
 * (removal-cost.ts: the removal cost with the gate held fixed) route with the
 * plain gate, so nobody's rank is credited for forced routing: a noise peer
 * held in a young slot still costs nothing to remove. `share: 0` or
 * `steps: 0` turns exploration off (the routing is then exactly the plain
 * gate's, and the extra random generator is never drawn from).
 */
import { createRng, type Rng } from '@peerbench/mechanism';

export interface YoungSlotOptions {
  /** Training steps after a slot is taken during which it is explored (0: off). */
  steps: number;
  /** Share of a batch's rows routed to a just-taken slot, in [0, 1]; decays linearly to 0 over `steps` (0: off). */
  share: number;
}

/**
 * 50 steps = the neighbour policy's 10-block trial at the swarm's
 * `--block-steps 5`; half the rows at first, a quarter on average over the
 * trial (an average remote expert gets ~1/8 of the rows at k = 2, D = 8).
 */
export const DEFAULT_YOUNG_SLOT_OPTIONS: YoungSlotOptions = { steps: 50, share: 0.5 };

/** What the gate needs to explore one training batch (see `forceYoungRows`). */
export interface Exploration {
  /** Per slot, the share of rows it is routed now (0: not young). */
  shares: Float32Array;
  rng: Rng;
}

export class YoungSlots {
  readonly options: YoungSlotOptions;
  /** Per slot, the trainer step at which its holder took it (NaN: not young). */
  private readonly takenAt: Float64Array;
  private readonly rng: Rng;

  constructor(slots: number, options: Partial<YoungSlotOptions> = {}, seed?: number) {
    this.options = { ...DEFAULT_YOUNG_SLOT_OPTIONS, ...options };
    const { steps, share } = this.options;
    if (!(steps >= 0) || !(share >= 0 && share <= 1))
      throw new RangeError(`young slots need steps >= 0 and share in [0, 1], got ${steps}, ${share}`);
    this.takenAt = new Float64Array(slots).fill(Number.NaN);
    this.rng = createRng(seed ?? Math.floor(Math.random() * 2 ** 31));
  }

  get enabled(): boolean {
    return this.options.steps > 0 && this.options.share > 0;
  }

  /** Slot `slot` got a new holder at trainer step `step`: it is young from now (again). */
  taken(slot: number, step: number): void {
    if (slot > 0 && slot < this.takenAt.length) this.takenAt[slot] = step;
  }

  /** Slot `slot` lost its holder: nothing to explore until the next one takes it. */
  released(slot: number): void {
    if (slot > 0 && slot < this.takenAt.length) this.takenAt[slot] = Number.NaN;
  }

  /** Share of rows slot `slot` is routed at trainer step `step` (0 once `steps` have passed). */
  share(slot: number, step: number): number {
    const t = step - (this.takenAt[slot] ?? Number.NaN);
    if (!this.enabled || !(t >= 0) || t >= this.options.steps) return 0;
    return this.options.share * (1 - t / this.options.steps);
  }

  /** What a training step at `step` explores; undefined when no slot is young (the plain gate). */
  exploration(step: number): Exploration | undefined {
    if (!this.enabled) return undefined;
    const shares = new Float32Array(this.takenAt.length);
    let any = false;
    for (let s = 1; s < shares.length; s++) {
      shares[s] = this.share(s, step);
      if (shares[s]! > 0) any = true;
    }
    return any ? { shares, rng: this.rng } : undefined;
  }
}

/**
 * Routes young slots a share of the rows (see the file comment), in place:
 * `chosen` is the row-major [batch, slots] 0/1 mask, `ranked` the gate's
 * top-k slot indices per row, best first ([batch, k]). Unavailable slots are
 * never forced.
 */
export function forceYoungRows(
  chosen: Float32Array,
  ranked: ArrayLike<number>,
  batch: number,
  k: number,
  available: readonly boolean[],
  explore: Exploration,
): void {
  const slots = available.length;
  const young: number[] = [];
  let total = 0;
  for (let s = 1; s < slots; s++)
    if (available[s] && (explore.shares[s] ?? 0) > 0) {
      young.push(s);
      total += explore.shares[s]!;
    }
  if (young.length === 0) return;
  const scale = total > 1 ? 1 / total : 1;
  for (let b = 0; b < batch; b++) {
    const u = explore.rng.next();
    let acc = 0;
    let forced = -1;
    for (const s of young) {
      acc += explore.shares[s]! * scale;
      if (u < acc) {
        forced = s;
        break;
      }
    }
    if (forced < 0 || chosen[b * slots + forced] === 1) continue;
    // The lowest-ranked chosen slot gives way; self only when nothing else can.
    let drop = ranked[b * k + k - 1]!;
    for (let r = k - 1; r >= 0; r--)
      if (ranked[b * k + r] !== 0) {
        drop = ranked[b * k + r]!;
        break;
      }
    chosen[b * slots + drop] = 0;
    chosen[b * slots + forced] = 1;
  }
}
