/**
 * A gate slot that changes hands (issue 14): when the neighbour policy lets
 * one peer go and another take its place, nothing this peer learned about the
 * old holder may be credited to, or shape the routing of, the new one. The
 * slot's state is:
 *
 * - its gate column (w_gate[:, s], w_noise[:, s]) and the optimiser's Adam
 *   moments of that column: zeroed, so the gate starts the newcomer where it
 *   starts every expert (Shazeer et al.'s zero init) instead of at the old
 *   holder's learned preference;
 * - in 'concat' mode, the head's block of input weights that reads slot s
 *   (rows s·d … (s+1)·d of its first layer) and its moments: zeroed, the
 *   head learns the newcomer's representation space from nothing (it was
 *   fitted to another peer's space);
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

/** Multiplies `v` and its moments by a 0/1 mask of its shape (the zeros reset those entries). */
function zeroWhere(v: tf.Variable, optimizer: tf.Optimizer, mask: () => tf.Tensor): void {
  tf.tidy(() => {
    const keep = mask();
    for (const t of [v, ...momentsOf(optimizer, v)]) t.assign(tf.mul(t, keep));
  });
}

/** Resets everything slot `slot` learned about its previous holder (see the file comment). */
export function resetSlotState(state: SlotState, slot: number): void {
  const { gate, head, d, optimizer } = state;
  const columns = gate.slots;
  const columnMask = () => {
    const keep = new Float32Array(columns).fill(1);
    keep[slot] = 0;
    return tf.tensor2d(keep, [1, columns]);
  };
  zeroWhere(gate.wGate, optimizer, columnMask);
  zeroWhere(gate.wNoise, optimizer, columnMask);
  const w0 = head.weights[0];
  if (state.combine === 'concat' && w0 && w0.shape[0] === columns * d) {
    zeroWhere(w0, optimizer, () => {
      const keep = new Float32Array(columns * d).fill(1);
      keep.fill(0, slot * d, (slot + 1) * d);
      return tf.tensor2d(keep, [columns * d, 1]);
    });
  }
  state.standIns.drop(slot);
  state.scorer.resetSlot(slot);
}
