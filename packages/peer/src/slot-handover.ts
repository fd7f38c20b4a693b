/**
 * A gate slot that changes hands (issue 14): when the neighbour policy lets
 * one peer go and another take its place, nothing this peer learned about the
 * old holder may be credited to, or shape the routing of, the new one, and
 * the new holder starts where every expert started when the network began
 * (all on equal terms), not behind them. The slot's state is:
 *
 * - its gate column (w_gate[:, s], w_noise[:, s]): set to the mean of the
 *   columns of the other remote slots in use, and the optimiser's Adam
 *   moments of that column zeroed. At the start every column is zero, i.e.
 *   equal to the mean of all columns (Shazeer et al.'s zero init: every
 *   expert starts equal); a zero column among learned ones is not equal: the
 *   gate then scores the newcomer below everyone it learned to like and
 *   rarely routes to it, so it never gets the chance to show its worth
 *   (docs/results/swarm-newcomers.md measured links made after the start
 *   earning ~1/10 of the weight of the first ones);
 * - in 'concat' mode, the head's block of input weights that reads slot s
 *   (rows s·d … (s+1)·d of its first layer): drawn afresh from the layer's
 *   Glorot-normal init (as every block was at construction), moments zeroed.
 *   A zero block would make the head blind to the newcomer and give its gate
 *   column no gradient (∂L/∂g_s goes through that block);
 * - its block of the student of G (g-student.ts, trained on the old holder's
 *   answers): marked not ready, so no stand-in or depth-1 answer uses it
 *   until it has been trained on the new holder's answers;
 * - its score state (gate importance EMA, removal costs of the window).
 *
 * The caller budget is per caller, not per slot: the expert server forgets
 * a peer's saved inputs and backward budget when its link closes (the runner
 * calls `ExpertServer.forgetCaller`).
 */
import * as tf from '@tensorflow/tfjs';
import type { GStudent } from './g-student.js';
import type { NoisyTopKGate } from './gate.js';
import type { Mlp } from './model.js';
import type { Scorer } from './scorer.js';

export interface SlotState {
  gate: NoisyTopKGate;
  head: Mlp;
  standIns: GStudent;
  scorer: Scorer;
  optimizer: tf.Optimizer;
  /** Representation width d. */
  d: number;
  combine: 'concat' | 'sum';
}

/** The slice of a tfjs Adam optimiser that holds its moments (tfjs-core 4.x; absent in others: skipped). */
interface MomentSlots {
  accumulatedFirstMoment?: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment?: Array<{ originalName: string; variable: tf.Variable } | undefined>;
}

/** The optimiser's moment variables of `v` (none before its first update, or for another optimiser). */
function momentsOf(optimizer: tf.Optimizer, v: tf.Variable): tf.Variable[] {
  const m = optimizer as unknown as MomentSlots;
  const out: tf.Variable[] = [];
  for (const list of [m.accumulatedFirstMoment, m.accumulatedSecondMoment])
    for (const entry of list ?? [])
      if (entry && (entry.originalName === `${v.name}/m` || entry.originalName === `${v.name}/v`))
        out.push(entry.variable);
  return out;
}

/** What a fresh start of a slot needs besides the slot state. */
export interface FreshStart {
  /** The other remote slots in use now (their mean column is where the new holder's starts). */
  peers: readonly number[];
  /** Seed of the head block's fresh Glorot-normal draw (a seeded run stays reproducible). */
  seed: number;
}

/** Writes `value` (shape of `v`) into the entries of `v` where `mask` is 1, and zeroes their moments. */
function overwriteWhere(
  v: tf.Variable,
  optimizer: tf.Optimizer,
  mask: () => tf.Tensor,
  value: () => tf.Tensor,
): void {
  tf.tidy(() => {
    const m = mask();
    const keep = tf.sub(1, m);
    for (const t of momentsOf(optimizer, v)) t.assign(tf.mul(t, keep));
    v.assign(tf.add(tf.mul(v, keep), tf.mul(value(), m)));
  });
}

/**
 * Resets everything slot `slot` learned about its previous holder (see the
 * file comment). Without `fresh` the slot is zeroed (gate column and head
 * block), the state of a slot nobody ever held.
 */
export function resetSlotState(state: SlotState, slot: number, fresh?: FreshStart): void {
  const { gate, head, d, optimizer } = state;
  const columns = gate.slots;
  const columnMask = () => {
    const m = new Float32Array(columns);
    m[slot] = 1;
    return tf.tensor2d(m, [1, columns]);
  };
  const others = (fresh?.peers ?? []).filter((p) => p !== slot && p > 0 && p < columns);
  for (const v of [gate.wGate, gate.wNoise])
    overwriteWhere(v, optimizer, columnMask, () => {
      if (others.length === 0) return tf.zerosLike(v);
      const pick = new Float32Array(columns);
      for (const p of others) pick[p] = 1 / others.length;
      // Mean column, broadcast over every column (only slot s is written).
      return tf.matMul(v, tf.tensor2d(pick, [columns, 1]));
    });
  const w0 = head.weights[0];
  if (state.combine === 'concat' && w0 && w0.shape[0] === columns * d) {
    const [fanIn, fanOut] = w0.shape as [number, number];
    overwriteWhere(
      w0,
      optimizer,
      () => {
        const m = new Float32Array(columns * d);
        m.fill(1, slot * d, (slot + 1) * d);
        return tf.tensor2d(m, [columns * d, 1]);
      },
      () =>
        fresh
          ? tf.randomNormal([fanIn, fanOut], 0, Math.sqrt(2 / (fanIn + fanOut)), 'float32', fresh.seed)
          : tf.zerosLike(w0),
    );
  }
  state.standIns.drop(slot);
  state.scorer.resetSlot(slot);
}

/** What the trainer does when a slot's holder leaves it, and when a new holder takes it. */
export interface SlotHooks {
  release(slot: number): void;
  take(slot: number): void;
}

/**
 * Gives every newly seen peer a free slot, first come (slot 0 is this peer's
 * own). With `followLinks` (the neighbour policy picks the links), a holder
 * that is no longer online gives its slot up first, so the slot can change
 * hands; without it a full table keeps its holders.
 */
export function assignSlots(
  slots: (string | null)[],
  online: readonly string[],
  followLinks: boolean,
  hooks: SlotHooks,
): void {
  if (followLinks)
    for (let s = 1; s < slots.length; s++) {
      const peerId = slots[s];
      if (peerId && !online.includes(peerId)) {
        slots[s] = null;
        hooks.release(s);
      }
    }
  for (const peerId of online) {
    if (slots.includes(peerId)) continue;
    const free = slots.indexOf(null);
    if (free < 0) return;
    slots[free] = peerId;
    hooks.take(free);
  }
}
