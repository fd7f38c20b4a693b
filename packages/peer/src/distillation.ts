/**
 * Distilled stand-ins (§1.8, eq 11). For every remote expert slot this peer
 * keeps a small student that learns, from the detached answers it receives,
 * to produce what that peer answers (MSE on the representation). When the
 * peer is offline, times out or sends garbage, its student answers in its
 * place: the step never fails because a peer left, and queries never go
 * deeper than depth 1.
 */
import * as tf from '@tensorflow/tfjs';
import { exportVariables, Mlp, type NamedWeights } from './model.js';

export interface StandInOptions {
  inputSize: number;
  /** The network-wide representation width d. */
  outputSize: number;
  hidden: number;
  learningRate: number;
  /** A student answers only after this many training steps (an untrained one would inject noise). */
  minTrainingSteps: number;
  seed?: number;
  /** Process-unique variable scope (see Mlp). */
  scope?: string;
}

interface Student {
  net: Mlp;
  optimizer: tf.Optimizer;
  steps: number;
  lastLoss: number | null;
}

export class StandIns {
  private readonly students = new Map<number, Student>();

  constructor(private readonly opts: StandInOptions) {}

  private student(slot: number): Student {
    let s = this.students.get(slot);
    if (!s) {
      s = {
        net: new Mlp(
          `standin${slot}`,
          {
            sizes: [this.opts.inputSize, this.opts.hidden, this.opts.outputSize],
            activations: ['relu', 'linear'],
          },
          this.opts.seed === undefined ? undefined : this.opts.seed + slot,
          this.opts.scope,
        ),
        optimizer: tf.train.adam(this.opts.learningRate),
        steps: 0,
        lastLoss: null,
      };
      this.students.set(slot, s);
    }
    return s;
  }

  /** True when the slot's student is trained enough to answer in place of its peer. */
  ready(slot: number): boolean {
    return (this.students.get(slot)?.steps ?? 0) >= this.opts.minTrainingSteps;
  }

  steps(slot: number): number {
    return this.students.get(slot)?.steps ?? 0;
  }

  lastLoss(slot: number): number | null {
    return this.students.get(slot)?.lastLoss ?? null;
  }

  /** The student's answer for x (a constant for the caller's tape: no gradient flows into students from L_i). */
  predict(slot: number, x: tf.Tensor2D): tf.Tensor2D {
    const s = this.student(slot);
    return tf.tidy(() => s.net.apply(x));
  }

  /**
   * One distillation step towards the detached answer. Returns the MSE
   * before the step as a scalar tensor the caller owns (and reads when it
   * reads the rest of its step, asynchronously: `recordLoss`).
   */
  fit(slot: number, x: tf.Tensor2D, target: tf.Tensor2D): tf.Scalar {
    const s = this.student(slot);
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.meanSquaredError(target, s.net.apply(x)) as tf.Scalar,
        s.net.variables(),
      );
      s.optimizer.applyGradients(grads);
      return value;
    });
    s.steps++;
    return loss;
  }

  /** The value of the loss `fit` returned, once read. */
  recordLoss(slot: number, loss: number): void {
    const s = this.students.get(slot);
    if (s) s.lastLoss = loss;
  }

  /** Forgets a slot's student (its slot was given to another peer). */
  drop(slot: number): void {
    const s = this.students.get(slot);
    if (!s) return;
    s.net.dispose();
    s.optimizer.dispose();
    this.students.delete(slot);
  }

  /** Every student's weights and step count, read in one transfer (snapshotted when called). */
  exportWeights(into: NamedWeights = {}): Promise<NamedWeights> {
    const names: string[] = [];
    const vars: tf.Variable[] = [];
    for (const [slot, s] of this.students) {
      names.push(...s.net.variableNames());
      vars.push(...s.net.variables());
      into[`standin${slot}/steps`] = { shape: [1], data: Float32Array.of(s.steps) };
    }
    return exportVariables(names, vars, into);
  }

  importWeights(weights: NamedWeights): void {
    for (const name of Object.keys(weights)) {
      const m = /^standin(\d+)\/steps$/.exec(name);
      if (!m) continue;
      const slot = Number(m[1]);
      const s = this.student(slot);
      s.net.importWeights(weights);
      s.steps = weights[name]!.data[0] ?? 0;
    }
  }

  dispose(): void {
    for (const slot of [...this.students.keys()]) this.drop(slot);
  }
}
