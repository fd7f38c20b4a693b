/**
 * The composition of eq 9, f_i = f_i(G(x)): the representation peer i serves
 * is computed from its own encoder *and* its gated view of the network, in
 * the width d the network agrees on (§1.7), with the distilled student in
 * place of the network (§1.8, Fig 3: queries go to depth 1, then the student).
 *
 *   answerDepth 0:  f_i(x) = tanh(e_i(x))                       (the encoder alone)
 *   answerDepth 1:  f_i(x) = tanh(e_i(x) + Ĝ(x)·P)
 *                   Ĝ(x)   = [g_1(x)·f̂_1(x), …, g_{N−1}(x)·f̂_{N−1}(x)]
 *
 * e_i(x) is the encoder's output before its tanh, f̂_j the student's block for
 * remote slot j (g-student.ts; zero until that block is trained), g(x) the
 * gate's clean softmax over self and the slots whose block is trained (dense:
 * the student is local, there is no bandwidth for top-k to save), P a
 * [(N−1)·d, d] projection. P starts at zero by default (`'zero'`: a fresh
 * depth-1 peer answers exactly as at depth 0, and the network's part grows
 * only as far as the peer's own loss and its callers' gradients pull it), or
 * at one identity block per slot (`'identity'`: f_i = tanh(e_i + Σ_j g_j f̂_j),
 * so an answer carries the student's view from the first trained block on;
 * Σ_j g_j ≤ 1, so it adds at most one d-wide answer's worth). Either way a
 * block is zero until the student has trained it, so the very first answers
 * are the encoder's. Ĝ is a constant of every tape (stopGradient): the
 * student learns only by distillation and the gate only from the local loss;
 * e_i and P are trained end to end by the peer's own loss (f_i is slot 0 of
 * its G(x)) and by the gradients its callers send back.
 *
 * Answering at depth 1 costs the student's forward and one [(N−1)·d, d]
 * matmul, never a remote call, and carries what this peer's student learned
 * from its neighbours to whoever calls it.
 */
import * as tf from '@tensorflow/tfjs';
import type { GStudent } from './g-student.js';
import type { NoisyTopKGate } from './gate.js';
import type { Mlp } from './model.js';
import { scoped } from './model.js';

/** How deep an answer reaches: 0 = the encoder alone, 1 = encoder plus the student of G (eq 9 at depth 1). */
export type AnswerDepth = 0 | 1;

/** How P starts (see the file comment). */
export type CompositionInit = 'zero' | 'identity';

/** Logical name of P in a saved weight set. */
export const COMPOSITION_WEIGHT_NAME = 'compose/p';

/** What an expert answers with and what callers' gradients update (ExpertServer). */
export interface ServedFunction {
  readonly inputSize: number;
  readonly outputSize: number;
  apply(x: tf.Tensor2D): tf.Tensor2D;
  variables(): tf.Variable[];
}

/** The parts of peer i that eq 9 composes. */
export interface CompositionParts {
  encoder: Mlp;
  gate: NoisyTopKGate;
  student: GStudent;
  /** Per slot: whether its student block may be used now (assigned and trained); slot 0 ignored. */
  ready(): boolean[];
}

/**
 * x as a constant of any tape: its gradient is zero (tfjs 4 has no
 * stopGradient). Ĝ goes through it, so neither the student, the gate nor
 * (through the gate's context) the encoder learn from Ĝ's path.
 */
const constant = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: (inputs[0] as tf.Tensor).clone(),
  gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor),
}));

/** P of eq 9 at depth 1, and the served function built from it. */
export class Composition {
  readonly p: tf.Variable;

  constructor(
    private readonly parts: CompositionParts,
    slots: number,
    d: number,
    scope?: string,
    init: CompositionInit = 'zero',
  ) {
    this.p = tf.tidy(() => {
      const blocks = Math.max(1, slots - 1);
      const start = init === 'identity' ? tf.tile(tf.eye(d), [blocks, 1]) : tf.zeros([blocks * d, d]);
      return tf.variable(start, true, scoped(scope, COMPOSITION_WEIGHT_NAME));
    });
  }

  variables(): tf.Variable[] {
    return [this.p];
  }

  /** Ĝ(x): the gated student blocks [B, (N−1)·d], a constant (see the file comment). */
  networkView(x: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor2D {
    const { gate, student } = this.parts;
    return tf.tidy(() => {
      const B = x.shape[0];
      const ready = this.parts.ready();
      const available = tf.tensor1d(ready.map((r, s) => (s === 0 || r ? 1 : 0)));
      const g = tf.softmax(gate.logits(h, null, available));
      const remote = tf.slice(g, [0, 1], [B, student.slots - 1]);
      const blocks = tf.reshape(student.predictAll(x), [B, student.slots - 1, -1]);
      const gated = tf.mul(blocks, tf.expandDims(remote, 2));
      return constant(tf.reshape(gated, [B, -1])) as tf.Tensor2D;
    });
  }

  /** f_i(x) at depth 1 and the gate's context h(x) = tanh(e_i(x)) (see the file comment). */
  represent(x: tf.Tensor2D): { h: tf.Tensor2D; f: tf.Tensor2D } {
    return tf.tidy(() => {
      const pre = this.parts.encoder.applyPreActivation(x);
      const h = tf.tanh(pre);
      const view = this.networkView(x, h);
      const f = tf.tanh(tf.add(pre, tf.matMul(view, this.p))) as tf.Tensor2D;
      return { h, f };
    });
  }

  /** The served function at depth 1: encoder and P are what callers' gradients update. */
  served(): ServedFunction {
    const encoder = this.parts.encoder;
    return {
      inputSize: encoder.inputSize,
      outputSize: encoder.outputSize,
      apply: (x) => tf.tidy(() => this.represent(x).f),
      variables: () => [...encoder.variables(), this.p],
    };
  }

  dispose(): void {
    this.p.dispose();
  }
}
