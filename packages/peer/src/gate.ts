/**
 * The sparsely-gated mixture-of-experts layer of §1.7 (eq 9-10), after
 * Shazeer et al. 2017 ("Outrageously large neural networks"):
 *
 *   H(x)  = h(x)·W_g + ε ∘ softplus(h(x)·W_noise),  ε ~ N(0, 1) while training
 *   g(x)  = softmax(KeepTopK(H(x), k))
 *   L_imp = w_imp · CV(Σ_batch g(x))²     (importance balance)
 *
 * Experts are slots: slot 0 is this peer itself, the others are remote peers
 * as they become known (the trainer owns the slot ↔ peerId map). Slots that
 * are neither reachable nor stood in for are "unavailable" and can never be
 * chosen. Routing (which k slots) is decided outside the gradient tape, once
 * per step, so the RPCs can go out; the differentiable gates are recomputed
 * inside the tape with the same noise and the same choice.
 */

import { createRng, type Rng } from '@peerbench/mechanism';
import * as tf from '@tensorflow/tfjs';
import { exportVariables, importVariables, type NamedWeights, scoped } from './model.js';
import { type Exploration, forceYoungRows } from './young-slots.js';

/** Logit given to slots that must not be chosen; exp() of it is exactly 0. */
const MASKED_LOGIT = -1e9;

export interface GateOptions {
  /** Width of the context h(x) the gate reads (the encoder's output d). */
  inputSize: number;
  /** Number of expert slots including self (slot 0). */
  slots: number;
  /** Experts kept per example. */
  k: number;
  /** Process-unique variable scope (see Mlp). */
  scope?: string;
  /** Seed of the routing noise ε (undefined: tfjs's unseeded generator). A seeded swarm run is reproducible only with it. */
  noiseSeed?: number;
}

export interface Routing {
  /** Batch size. */
  batch: number;
  /** Row-major [batch, slots] 0/1 mask of the chosen experts. */
  chosen: Float32Array;
  /** The noise drawn for this step (kept so the tape sees the same logits), or null when not training. */
  noise: tf.Tensor2D | null;
  /** For every slot, the batch rows routed to it (ascending). */
  rowsBySlot: number[][];
}

export class NoisyTopKGate {
  readonly slots: number;
  readonly k: number;
  readonly wGate: tf.Variable;
  readonly wNoise: tf.Variable;
  private readonly noiseRng: Rng | null;

  constructor(opts: GateOptions) {
    if (!(opts.k >= 1)) throw new RangeError('gate k must be >= 1');
    this.slots = opts.slots;
    this.k = opts.k;
    this.noiseRng = opts.noiseSeed === undefined ? null : createRng(opts.noiseSeed);
    // Zero gate weights (as in Shazeer et al.): every expert starts equal and
    // the noise alone spreads the first batches over all of them.
    // The tidy frees the initial zeros (variables keep their own reference).
    const [wGate, wNoise] = tf.tidy(() => [
      tf.variable(tf.zeros([opts.inputSize, opts.slots]), true, scoped(opts.scope, 'gate/w_gate')),
      tf.variable(tf.zeros([opts.inputSize, opts.slots]), true, scoped(opts.scope, 'gate/w_noise')),
    ]);
    this.wGate = wGate!;
    this.wNoise = wNoise!;
  }

  variables(): tf.Variable[] {
    return [this.wGate, this.wNoise];
  }

  /** Noisy logits H(x); unavailable slots pushed to MASKED_LOGIT. */
  logits(h: tf.Tensor2D, noise: tf.Tensor2D | null, available: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      let H: tf.Tensor2D = tf.matMul(h, this.wGate);
      if (noise) H = tf.add(H, tf.mul(noise, tf.softplus(tf.matMul(h, this.wNoise))));
      return tf.add(H, tf.mul(tf.sub(1, available), MASKED_LOGIT));
    });
  }

  /**
   * Chooses the top-k available slots per example. Not differentiable; call
   * outside the tape. The chosen indices are read back asynchronously: a
   * synchronous read stalls a GPU pipeline, and on tfjs-webgpu it goes
   * through a canvas that can lose the device (issue 19).
   *
   * `explore` (training steps only, young-slots.ts): young slots are routed a
   * share of the rows on top of the gate's choice; every row keeps k experts.
   */
  async route(
    h: tf.Tensor2D,
    available: boolean[],
    training: boolean,
    explore?: Exploration,
  ): Promise<Routing> {
    const batch = h.shape[0];
    const nAvailable = available.filter(Boolean).length;
    if (nAvailable === 0) throw new RangeError('no expert slot is available');
    const k = Math.min(this.k, nAvailable);
    const noise = training ? this.drawNoise(batch) : null;
    const chosen = new Float32Array(batch * this.slots);
    const indices = tf.tidy(() => tf.topk(this.logits(h, noise, availableTensor(available)), k).indices);
    try {
      const idx = await indices.data();
      for (let b = 0; b < batch; b++)
        for (let r = 0; r < k; r++) chosen[b * this.slots + idx[b * k + r]!] = 1;
      if (explore) forceYoungRows(chosen, idx, batch, k, available, explore);
    } catch (err) {
      noise?.dispose();
      throw err;
    } finally {
      indices.dispose();
    }
    const rowsBySlot: number[][] = Array.from({ length: this.slots }, () => []);
    for (let b = 0; b < batch; b++)
      for (let s = 0; s < this.slots; s++) if (chosen[b * this.slots + s] === 1) rowsBySlot[s]!.push(b);
    return { batch, chosen, noise, rowsBySlot };
  }

  /** ε ~ N(0, 1) of shape [batch, slots], from the seeded generator when there is one. */
  private drawNoise(batch: number): tf.Tensor2D {
    const rng = this.noiseRng;
    if (!rng) return tf.randomNormal<tf.Rank.R2>([batch, this.slots]);
    const values = new Float32Array(batch * this.slots);
    for (let q = 0; q < values.length; q++) values[q] = rng.normal();
    return tf.tensor2d(values, [batch, this.slots]);
  }

  /** Differentiable gates g(x): softmax over the chosen logits, exactly 0 elsewhere. */
  gates(h: tf.Tensor2D, routing: Routing, available: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      const H = this.logits(h, routing.noise, available);
      const keep = tf.tensor2d(routing.chosen, [routing.batch, this.slots]);
      return tf.softmax(tf.add(H, tf.mul(tf.sub(1, keep), MASKED_LOGIT))) as tf.Tensor2D;
    });
  }

  exportWeights(into: NamedWeights = {}): Promise<NamedWeights> {
    return exportVariables(['gate/w_gate', 'gate/w_noise'], this.variables(), into);
  }

  importWeights(weights: NamedWeights): number {
    return importVariables(['gate/w_gate', 'gate/w_noise'], this.variables(), weights);
  }

  dispose(): void {
    this.wGate.dispose();
    this.wNoise.dispose();
  }
}

export function availableTensor(available: boolean[]): tf.Tensor1D {
  return tf.tensor1d(available.map((a) => (a ? 1 : 0)));
}

/**
 * Squared coefficient of variation of the per-slot importance Σ_batch g(x),
 * over the available slots only (an expert that cannot be chosen must not
 * count as "under-used"). Zero when every available slot gets the same total.
 */
export function importanceCv2(gates: tf.Tensor2D, available: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const importance = tf.sum(gates, 0);
    const n = tf.maximum(tf.sum(available), 1);
    const mean = tf.div(tf.sum(tf.mul(importance, available)), n);
    const variance = tf.div(tf.sum(tf.mul(tf.square(tf.sub(importance, mean)), available)), n);
    return tf.div(variance, tf.add(tf.square(mean), 1e-10)) as tf.Scalar;
  });
}
