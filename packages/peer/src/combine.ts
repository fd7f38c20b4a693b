/**
 * G(x) of eq 10: how the gate joins the experts' answers into the head's
 * input. One function for the training step, both evaluations and the
 * removal-cost pass, so they cannot drift apart.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * How G(x) joins the experts' answers. 'concat': [g_0 f_0, …, g_{N−1} f_{N−1}]
 * over the N = maxExperts slots (slot 0 = self; a slot with nothing to give
 * is zeros), so the head reads N·d values. 'sum': Σ_j g_j f_j (head input d).
 * See ModelOptions.combine for what each measured.
 */
export type CombineMode = 'concat' | 'sum';

/**
 * G(x) of eq 10 from per-slot contributions f_s (null = nothing to give,
 * e.g. an unavailable or ablated slot) and the gates g [B, N]: the
 * concatenation of the N blocks g_s·f_s (zeros for null), or their sum.
 * `slots` is N, `d` the representation width. Differentiable w.r.t. every
 * contribution and the gates.
 */
export function combineExperts(
  mode: CombineMode,
  slots: number,
  d: number,
  B: number,
  g: tf.Tensor2D,
  contributions: ReadonlyArray<tf.Tensor2D | null>,
): tf.Tensor2D {
  const blocks: tf.Tensor2D[] = [];
  for (let s = 0; s < slots; s++) {
    const f = contributions[s];
    if (f) blocks.push(tf.mul(f, tf.slice(g, [0, s], [B, 1])));
    else if (mode === 'concat') blocks.push(tf.zeros([B, d]));
  }
  if (mode === 'concat') return tf.concat(blocks, 1);
  if (blocks.length === 0) return tf.zeros([B, d]);
  return blocks.length === 1 ? blocks[0]! : (tf.addN(blocks) as tf.Tensor2D);
}
