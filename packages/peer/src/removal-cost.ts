/**
 * The cost of removing each expert, measured exactly on peer i's validation
 * slice of D_i (eq 2-3; DESIGN.md step 6). One pass over a validation draw:
 *
 *  1. the encoder and the gate (no noise) route the draw as in evaluation;
 *  2. the routed rows go to their peers over the network (`forward`, no
 *     backward: read-only), as live answers;
 *  3. the head runs once on G(x) with everything, and once per contributing
 *     slot j on G(x) with f_j zeroed and the gate held fixed (ΔF = −f_j):
 *     N extra passes of the head only;
 *  4. per slot, Σ_b [ℓ(x_b | without j) − ℓ(x_b)], the exact per-example rise
 *     of the cross-entropy (examples not routed to j contribute 0).
 *
 * A slot whose peer did not answer (absent, late, refused, garbage) is served
 * by its stand-in like in training, but its cost is not credited to the peer:
 * a stand-in's contribution is i's own distilled model, not j's work.
 *
 * Why exact and not the second-order estimate Δzᵀ(diag p − ppᵀ)Δz: the head
 * is a small MLP, so N extra head passes cost less than one expert forward
 * round, and the exact value is what eq 2 defines (no Taylor error, no sign
 * lost). Readbacks are async (`await t.data()`), none in a step path.
 */
import * as tf from '@tensorflow/tfjs';
import { scatterRows } from './expert-calls.js';
import { availableTensor } from './gate.js';
import type { Batch } from './task.js';
import type { Trainer } from './trainer.js';

export interface RemovalCostPass {
  /** Examples in the draw. */
  rows: number;
  /** Per slot: Σ over the draw of the per-example loss rise when the slot is zeroed (0: nothing routed). */
  costSums: Float64Array;
  /** Per slot: answered by its own peer (or self, slot 0), so the cost is credited to it. */
  credited: boolean[];
  /** Mean cross-entropy and accuracy on the draw with nothing removed (the validation figures). */
  loss: number;
  accuracy: number;
}

/**
 * How the validation draw is routed: 'clean' as in evaluation (no gate
 * noise: the top-k the gate prefers, so an expert it never picks costs 0
 * whatever it is worth), or 'noisy' as in training (the gate's noise, from
 * its seeded generator: every expert is tried now and then, as the training
 * steps try it).
 */
export type ScoreRouting = 'clean' | 'noisy';

/** Measures every slot's removal cost on `batch` (see the file comment). Disposes every tensor it makes. */
export async function measureRemovalCosts(
  trainer: Trainer,
  batch: Batch,
  signal?: AbortSignal,
  routingMode: ScoreRouting = 'clean',
): Promise<RemovalCostPass> {
  const N = trainer.slots.length;
  const inputSize = trainer.task.inputSize;
  const d = trainer.model.representationSize;
  const rows = batch.size;
  const online = trainer.calls.online();
  const available = trainer.availability(online);
  const x = tf.tensor2d(batch.x, [rows, inputSize]);
  const { h, f } = trainer.represent(x);
  let noise: { dispose(): void } | null = null;
  try {
    const routing = await trainer.gate.route(h, available, routingMode === 'noisy');
    noise = routing.noise;
    const answers = await trainer.calls.liveAnswers(routing, batch.x, online, -1, signal);
    const credited = trainer.slots.map((_, s) => s === 0 || answers.has(s));
    // Slots that take part in G(x) for this draw, in order; row 0 of `losses` is the full G.
    const removable: number[] = [];
    const losses = tf.tidy(() => {
      const y = tf.tensor2d(batch.y, [rows, trainer.task.numClasses]);
      const g = trainer.gate.gates(h, routing, availableTensor(available));
      const standIn = trainer.standIns.blocksOf(x);
      const contributions: (tf.Tensor2D | null)[] = trainer.slots.map((_, s) => {
        if (s === 0) return f;
        const rs = routing.rowsBySlot[s]!;
        if (rs.length === 0) return null;
        const answer = answers.get(s);
        if (answer) return tf.tensor2d(scatterRows(answer, d, rs, rows), [rows, d]);
        return trainer.standIns.ready(s) ? standIn(s) : null;
      });
      const perExample = (parts: ReadonlyArray<tf.Tensor2D | null>): tf.Tensor1D => {
        const logits = trainer.head.apply(trainer.combine(rows, g, parts));
        return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1)) as tf.Tensor1D;
      };
      const out: tf.Tensor1D[] = [perExample(contributions)];
      for (let s = 0; s < N; s++) {
        if (!contributions[s] || (s > 0 && routing.rowsBySlot[s]!.length === 0)) continue;
        removable.push(s);
        out.push(perExample(contributions.map((c, q) => (q === s ? null : c))));
      }
      const full = trainer.head.apply(trainer.combine(rows, g, contributions));
      const hits = tf.cast(tf.equal(tf.argMax(full, 1), tf.argMax(y, 1)), 'float32');
      return tf.stack([...out, hits]) as tf.Tensor2D;
    });
    let values: Float32Array;
    try {
      values = (await losses.data()) as Float32Array;
    } finally {
      losses.dispose();
    }
    const costSums = new Float64Array(N);
    let base = 0;
    let hits = 0;
    const hitRow = (removable.length + 1) * rows;
    for (let b = 0; b < rows; b++) {
      base += values[b]!;
      hits += values[hitRow + b]!;
    }
    removable.forEach((s, r) => {
      let sum = 0;
      const off = (r + 1) * rows;
      for (let b = 0; b < rows; b++) sum += values[off + b]! - values[b]!;
      costSums[s] = sum;
    });
    return { rows, costSums, credited, loss: base / Math.max(1, rows), accuracy: hits / Math.max(1, rows) };
  } finally {
    tf.dispose([x, h, f]);
    noise?.dispose();
  }
}

/**
 * One scoring pass: the next `rows` examples of `cycle` (the trainer's
 * validation slice), their removal costs measured and recorded in the
 * trainer's scorer for the current block. Returns the pass (its loss and
 * accuracy are the validation figures).
 */
export async function scoreOnValidation(
  trainer: Trainer,
  cycle: ValidationCycle,
  rows: number,
  routing: ScoreRouting,
): Promise<RemovalCostPass> {
  const draw = cycle.next(rows, trainer.task.inputSize, trainer.task.numClasses);
  const pass = await measureRemovalCosts(trainer, draw, undefined, routing);
  trainer.scorer.observeValidation(pass.costSums, pass.rows, pass.credited);
  return pass;
}

/**
 * Draws from a validation slice in a fixed cycle (deterministic, every
 * example equally often): `next(size)` returns the following `size`
 * examples, wrapping around.
 */
export class ValidationCycle {
  private cursor = 0;

  constructor(private readonly data: Batch) {}

  get size(): number {
    return this.data.size;
  }

  next(size: number, inputSize: number, numClasses: number): Batch {
    const n = Math.max(1, Math.min(size, this.data.size));
    const x = new Float32Array(n * inputSize);
    const y = new Float32Array(n * numClasses);
    for (let b = 0; b < n; b++) {
      const i = this.cursor;
      this.cursor = (this.cursor + 1) % this.data.size;
      x.set(this.data.x.subarray(i * inputSize, (i + 1) * inputSize), b * inputSize);
      y.set(this.data.y.subarray(i * numClasses, (i + 1) * numClasses), b * numClasses);
    }
    return { x, y, size: n };
  }
}
