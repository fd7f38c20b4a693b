/**
 * The trainer's settings — the model's shape and learning rates
 * (ModelOptions) and one step's batch, deadlines and wire precision
 * (StepOptions) — with their defaults, and what one step reports.
 */
import type { WireDtype } from '@peerbench/mesh';
import type { CombineMode } from './combine.js';
import type { AnswerDepth, CompositionInit } from './composition.js';
import type { ExpertSource } from './expert-calls.js';
import type { ScorerOptions } from './scorer.js';
import type { YoungSlotOptions } from './young-slots.js';

export interface ModelOptions {
  /** Network-wide representation width d of f_i(x) (every peer must agree). */
  representationSize: number;
  /** Hidden width of the encoder f_i. */
  encoderHidden: number;
  /** Hidden width of the head on G(x). */
  headHidden: number;
  /** Expert slots including self: at most this many peers can be gated. */
  maxExperts: number;
  /** Experts per example (k of top-k), self included. */
  topK: number;
  /** Adam learning rate of the local model. */
  learningRate: number;
  /**
   * Weight of the CV² importance term in the loss. Shazeer et al. use 0.1;
   * 0.5 measured better here (docs/results/gate-balance.md): with 0.1 a gate
   * sends most rows to the experts it already likes, so a young link gets
   * few rows and gradients and stays worth little. At 0.5, 8 seeds of the
   * 8-peer fidelity grid: B −1.6 [−2.3, −0.9], R against the ideal and the
   * known order as faithful (known order +0.17 [−0.01, +0.35]).
   */
  balanceWeight: number;
  /** Hidden width of the one distilled student of G (g-student.ts; it stands in for every remote slot). */
  standInHidden: number;
  /** Adam learning rate of the student. */
  standInLearningRate: number;
  /** A slot's block of the student answers only after this many distillation steps that saw the slot. */
  standInMinSteps: number;
  /** Answered rows the student's replay memory keeps (student-replay.ts); 0 or undefined: none. */
  studentReplayRows?: number;
  /** Older rows replayed beside the fresh ones in each fit of the student. */
  studentReplaySample?: number;
  /** Fit the student on every n-th step only (each fit is one optimiser step; answers of every step are remembered). */
  distillEverySteps: number;
  /**
   * Rows of callers' training inputs sent to every online neighbour as
   * distillation queries on every `distillQueryEverySteps`-th step (forward
   * only; one more fit of the student; distillation-queries.ts). 0 or
   * undefined: the student learns from this peer's own batches only.
   */
  callerDistillRows?: number;
  /** Send the distillation queries on every n-th step only (they cost the neighbours a forward each); default distillEverySteps. */
  distillQueryEverySteps?: number;
  /**
   * What this peer answers (eq 9, composition.ts). 0 (default): its encoder
   * alone. 1: f_i(Ĝ(x)), its encoder plus a learned projection of its
   * student's view of the network, so an answer carries what it learned from
   * its own neighbours, at local cost only (never a further remote call).
   */
  answerDepth?: AnswerDepth;
  /**
   * How the projection P of a depth-1 answer starts (composition.ts): 'zero'
   * (default; a fresh peer answers as at depth 0 until gradients move P) or
   * 'identity' (one identity block per remote slot: the answer carries the
   * student's view from its first trained block). Measured trade-off in
   * docs/results/depth1.md: identity carries a little more along the chain
   * (not significant over 20 seeds) and lowers ranking fidelity.
   */
  compositionInit?: CompositionInit;
  /**
   * How G(x) joins the experts (eq 10). 'concat': [g_0 f_0, …, g_{N−1} f_{N−1}]
   * over the N = maxExperts slots (slot 0 = self; a slot with nothing to give
   * is zeros), so the head reads N·d values and can tell the experts' spaces
   * apart — measured: sharing lowered B by 28% against isolated training.
   * 'sum': Σ_j g_j f_j (head input d) — measured: sharing did not beat
   * isolated training, one head cannot read a sum of independently learned
   * spaces.
   */
  combine: CombineMode;
  /** Seed of the weight initialisation (undefined = random). */
  seed?: number;
  /**
   * Share of the input features the encoder sees, in (0, 1]: a seeded random
   * subset (see `inputViewMask`); the rest is zeroed. A private view of the
   * input bounds what f_i can know however much it is trained by others, so
   * the swarm's `--quality views` gives peers a usefulness order sharing
   * cannot erase. Undefined or 1: the whole input.
   */
  inputView?: number;
  /** Scorer settings (removal source, window, gate-importance share); see scorer.ts. */
  scoring?: Partial<Omit<ScorerOptions, 'slots'>>;
  /**
   * Training-only exploration of slots that just got a holder (young-slots.ts):
   * steps it lasts and the share of rows at first. Undefined: its defaults;
   * `{ share: 0 }`: off (the plain gate of Shazeer et al.).
   */
  youngSlots?: Partial<YoungSlotOptions>;
}

export interface StepOptions {
  batchSize: number;
  /** Proceed once this many remote answers are in (capped at the number of requests)... */
  kMin: number;
  /** ...plus this grace period for the others, in ms. */
  graceMs: number;
  /** A forward that takes longer than this is abandoned, in ms. */
  forwardTimeoutMs: number;
  backwardTimeoutMs: number;
  /** Precision on the wire of the forward request (x) and answer, and of the gradient sent back. */
  wireDtype: WireDtype;
}

export const DEFAULT_MODEL_OPTIONS: ModelOptions = {
  representationSize: 64,
  encoderHidden: 128,
  headHidden: 64,
  maxExperts: 8,
  topK: 2,
  learningRate: 0.003,
  balanceWeight: 0.5,
  standInHidden: 64,
  standInLearningRate: 0.003,
  standInMinSteps: 5,
  distillEverySteps: 1,
  callerDistillRows: 16,
  distillQueryEverySteps: 2,
  studentReplayRows: 512,
  studentReplaySample: 128,
  combine: 'concat',
};

export const DEFAULT_STEP_OPTIONS: StepOptions = {
  batchSize: 32,
  kMin: 1,
  graceMs: 50,
  forwardTimeoutMs: 2000,
  backwardTimeoutMs: 2000,
  wireDtype: 'fp32',
};

/** A trainer's options from partial ones: every field not given takes its default above. */
export function withTrainerDefaults(
  model: Partial<ModelOptions> = {},
  step: Partial<StepOptions> = {},
): { model: ModelOptions; step: StepOptions } {
  return { model: { ...DEFAULT_MODEL_OPTIONS, ...model }, step: { ...DEFAULT_STEP_OPTIONS, ...step } };
}

export interface StepResult {
  step: number;
  /** Cross-entropy L_i of this batch. */
  loss: number;
  /** The importance balance term (before weighting). */
  balance: number;
  /** Per slot: which source answered (slot 0 = self). */
  sources: ExpertSource[];
  /** Per slot: rows routed to it in this batch. */
  routed: number[];
  /** Wall time of the step, in ms. */
  durationMs: number;
}
