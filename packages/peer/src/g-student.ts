/**
 * One distilled student of the gating ensemble G(x) (§1.8, eq 11).
 *
 * The paper's student "mimics the behaviour of an ensemble": here one small
 * MLP reads x and outputs, for every remote slot j = 1…N−1 of the gate, a
 * d-wide block f̂_j(x), so that Ĝ(x) = [g_1 f̂_1, …, g_{N−1} f̂_{N−1}] with the
 * peer's own gates g_j(x). It learns from the live answers only, detached
 * (the caller's loss never flows into it): on every distillation step, block
 * j is pulled towards the answer f_j(x) of the rows that were routed to j and
 * answered validly (masked mean squared error), the other blocks are left
 * alone; those rows are the ones remembered since the previous step plus a
 * sample of older ones (student-replay.ts).
 *
 * Why MSE on the blocks and not the KL through the head of eq 11: the student
 * is used three ways — as the stand-in for a missing neighbour's block of G
 * (block by block), as the peer's view of the network when it answers at
 * depth 1 (f_i(Ĝ(x)), read by *other* peers' heads), and offline — and all
 * three need the blocks themselves in the network's d-space. A KL through this
 * peer's head only pins down what this head reads (the head is many-to-one),
 * leaving the directions other peers read free; and a distribution over the
 * classes is not a d-wide answer at all. Matching the blocks also matches the
 * head's distribution (the gates are computed locally and exactly), so the KL
 * of eq 11 is implied, not traded away.
 *
 * One student replaces the earlier per-slot stand-ins (one MLP per remote
 * slot): one first layer is shared by every neighbour's block, so it costs
 * less than N−1 students and a depth-1 answer evaluates it once.
 */
import * as tf from '@tensorflow/tfjs';
import { exportVariables, Mlp, type NamedWeights } from './model.js';
import { StudentReplay } from './student-replay.js';

export interface GStudentOptions {
  inputSize: number;
  /** The network-wide representation width d (one block per remote slot). */
  outputSize: number;
  /** Gate slots including self (slot 0 has no block: it is this peer). */
  slots: number;
  hidden: number;
  learningRate: number;
  /** A slot's block answers only after this many distillation steps that saw the slot (an untrained one would inject noise). */
  minTrainingSteps: number;
  /** Answered rows the replay memory keeps (student-replay.ts); 0 keeps none: a fit sees only the fresh rows. */
  replayCapacity?: number;
  /** Older rows replayed beside the fresh ones in each fit. */
  replayRows?: number;
  seed?: number;
  /** Process-unique variable scope (see Mlp). */
  scope?: string;
}

/** The detached answer of one remote slot: its rows of the batch and the [rows, d] values. */
export interface SlotAnswer {
  slot: number;
  rows: readonly number[];
  data: Float32Array;
}

/** Rows the memory holds at least, replay or not: room for the fresh rows of one fit (a batch per step, plus queries). */
export const MIN_MEMORY_ROWS = 256;

/** Logical name of the student's weights in a saved weight set. */
export const G_STUDENT_NAME = 'gstudent';

export class GStudent {
  readonly net: Mlp;
  private readonly optimizer: tf.Optimizer;
  /** Distillation steps that saw each slot (index 0 unused). */
  private readonly slotSteps: Float32Array;
  private latestLoss: number | null = null;
  private readonly d: number;
  private readonly replay: StudentReplay;
  /** Older rows each fit replays (0 without a memory). */
  private readonly replayRows: number;
  /** Slots with answers remembered since the latest fit. */
  private readonly freshSlots = new Set<number>();

  constructor(private readonly opts: GStudentOptions) {
    this.d = opts.outputSize;
    this.net = new Mlp(
      G_STUDENT_NAME,
      {
        sizes: [opts.inputSize, opts.hidden, Math.max(1, opts.slots - 1) * this.d],
        activations: ['relu', 'linear'],
      },
      opts.seed,
      opts.scope,
    );
    this.optimizer = tf.train.adam(opts.learningRate);
    this.slotSteps = new Float32Array(opts.slots);
    this.replayRows = (opts.replayCapacity ?? 0) > 0 ? (opts.replayRows ?? 0) : 0;
    this.replay = new StudentReplay({
      capacity: Math.max(opts.replayCapacity ?? 0, MIN_MEMORY_ROWS),
      inputSize: opts.inputSize,
      width: Math.max(1, opts.slots - 1) * this.d,
      d: this.d,
      ...(opts.seed === undefined ? {} : { seed: opts.seed + 7 }),
    });
  }

  get slots(): number {
    return this.opts.slots;
  }

  /** True when slot's block is trained enough to answer in its peer's place. */
  ready(slot: number): boolean {
    return slot > 0 && slot < this.opts.slots && this.slotSteps[slot]! >= this.opts.minTrainingSteps;
  }

  /** Distillation steps that included slot. */
  steps(slot: number): number {
    return this.slotSteps[slot] ?? 0;
  }

  /** The masked MSE of the latest fit, once read (null before). */
  lastLoss(): number | null {
    return this.latestLoss;
  }

  /**
   * Every block f̂_j(x) as one [B, (N−1)·d] tensor. Callers' tapes never ask
   * for the student's variables, so no loss but `fit`'s reaches them.
   */
  predictAll(x: tf.Tensor2D): tf.Tensor2D {
    return this.net.apply(x);
  }

  /** Slot's block f̂_slot(x), [B, d] (slot ≥ 1). */
  predict(slot: number, x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.block(this.predictAll(x), slot));
  }

  /**
   * slot → f̂_slot(x), evaluating the student at most once for x (call inside
   * a tidy: the tensors are the caller's).
   */
  blocksOf(x: tf.Tensor2D): (slot: number) => tf.Tensor2D {
    let all: tf.Tensor2D | null = null;
    return (slot) => {
      all ??= this.predictAll(x);
      return this.block(all, slot);
    };
  }

  /** Slot's block of an output of `predictAll`. */
  block(all: tf.Tensor2D, slot: number): tf.Tensor2D {
    if (slot < 1 || slot >= this.opts.slots) throw new RangeError(`no student block for slot ${slot}`);
    return tf.slice(all, [0, (slot - 1) * this.d], [all.shape[0], this.d]);
  }

  /**
   * Keeps the detached answers of one batch (xData: its rows × inputSize) for
   * the next `fit`: block j of the rows each answer covers, nothing else.
   */
  remember(xData: Float32Array, answers: readonly SlotAnswer[]): void {
    const useful = answers.filter((a) => a.rows.length > 0 && a.slot > 0 && a.slot < this.opts.slots);
    if (useful.length === 0) return;
    // Without replay (replayCapacity 0) a fit still sees every row remembered since the previous one.
    this.replay.add(xData, useful);
    for (const a of useful) this.freshSlots.add(a.slot);
  }

  /**
   * One distillation step: the rows remembered since the previous fit plus
   * up to `replayRows` older ones (student-replay.ts), each block pulled
   * towards its answers (masked MSE). Returns the loss before the step as a
   * scalar the caller owns (read it with the rest of its step, then
   * `recordLoss`), or null when nothing new was remembered.
   */
  fit(): tf.Scalar | null {
    const batch = this.replay.batch(this.replayRows);
    if (!batch || batch.count === 0) return null;
    const width = (this.opts.slots - 1) * this.d;
    const loss = tf.tidy(() => {
      const x = tf.tensor2d(batch.x, [batch.rows, this.opts.inputSize]);
      const t = tf.tensor2d(batch.target, [batch.rows, width]);
      const w = tf.tensor2d(batch.weight, [batch.rows, width]);
      const { value, grads } = tf.variableGrads(
        () => tf.div(tf.sum(tf.mul(w, tf.square(tf.sub(this.net.apply(x), t)))), batch.count) as tf.Scalar,
        this.net.variables(),
      );
      this.optimizer.applyGradients(grads);
      return value;
    });
    for (const slot of this.freshSlots) this.slotSteps[slot]!++;
    this.freshSlots.clear();
    return loss;
  }

  /** The value of the loss `fit` returned, once read. */
  recordLoss(loss: number): void {
    this.latestLoss = loss;
  }

  /** Forgets what slot's block learned to stand for (the slot was given to another peer): not ready until retrained. */
  drop(slot: number): void {
    if (slot > 0 && slot < this.opts.slots) {
      this.slotSteps[slot] = 0;
      this.replay.drop(slot);
      this.freshSlots.delete(slot);
    }
  }

  /** The student's weights and per-slot step counts, read in one transfer. */
  exportWeights(into: NamedWeights = {}): Promise<NamedWeights> {
    into[`${G_STUDENT_NAME}/steps`] = { shape: [this.opts.slots], data: this.slotSteps.slice() };
    return exportVariables(this.net.variableNames(), this.net.variables(), into);
  }

  /** The expected shape of every weight `exportWeights` writes, by name. */
  weightShapes(): Record<string, number[]> {
    const out: Record<string, number[]> = { [`${G_STUDENT_NAME}/steps`]: [this.opts.slots] };
    const names = this.net.variableNames();
    this.net.variables().forEach((v, i) => {
      out[names[i]!] = v.shape.slice();
    });
    return out;
  }

  importWeights(weights: NamedWeights): void {
    this.net.importWeights(weights);
    const steps = weights[`${G_STUDENT_NAME}/steps`];
    if (steps && steps.data.length === this.opts.slots) this.slotSteps.set(steps.data);
  }

  dispose(): void {
    this.net.dispose();
    this.optimizer.dispose();
  }
}
