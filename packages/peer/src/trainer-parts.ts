/**
 * The learnable parts of one peer's model, built from its ModelOptions: the
 * encoder f_i (tanh output, so every peer's answers share one scale), the
 * head that reads G(x), the noisy top-k gate over the N = maxExperts slots,
 * the distilled student of G (eq 11) and, at answer depth 1, the composition
 * of eq 9. trainer.ts owns the step; this file only says what the model is.
 */
import * as tf from '@tensorflow/tfjs';
import type { CombineMode } from './combine.js';
import { Composition } from './composition.js';
import { GStudent } from './g-student.js';
import { NoisyTopKGate } from './gate.js';
import { inputViewMask, Mlp } from './model.js';
import type { Task } from './task.js';
import type { ModelOptions } from './trainer-options.js';

export interface TrainerParts {
  encoder: Mlp;
  head: Mlp;
  gate: NoisyTopKGate;
  student: GStudent;
  optimizer: tf.Optimizer;
}

/** The encoder, head, gate, student and optimiser of a peer (seeded from `model.seed` when set). */
export function buildTrainerParts(
  task: Task,
  model: ModelOptions,
  combine: CombineMode,
  scope: string,
): TrainerParts {
  const d = model.representationSize;
  const seed = model.seed;
  const view = model.inputView;
  const encoder = new Mlp(
    'encoder',
    {
      sizes: [task.inputSize, model.encoderHidden, d],
      activations: ['relu', 'tanh'],
      ...(view !== undefined && view < 1
        ? { inputMask: inputViewMask(task.inputSize, view, (seed ?? 0) + 300) }
        : {}),
    },
    seed,
    scope,
  );
  const head = new Mlp(
    'head',
    {
      sizes: [combine === 'concat' ? model.maxExperts * d : d, model.headHidden, task.numClasses],
      activations: ['relu', 'linear'],
    },
    seed === undefined ? undefined : seed + 1,
    scope,
  );
  const gate = new NoisyTopKGate({
    inputSize: d,
    slots: model.maxExperts,
    k: model.topK,
    scope,
    ...(seed === undefined ? {} : { noiseSeed: seed + 200 }),
  });
  const student = new GStudent({
    inputSize: task.inputSize,
    outputSize: d,
    slots: model.maxExperts,
    hidden: model.standInHidden,
    learningRate: model.standInLearningRate,
    minTrainingSteps: model.standInMinSteps,
    replayCapacity: model.studentReplayRows ?? 0,
    replayRows: model.studentReplaySample ?? 0,
    scope,
    ...(seed === undefined ? {} : { seed: seed + 100 }),
  });
  return { encoder, head, gate, student, optimizer: tf.train.adam(model.learningRate) };
}

/** The composition of eq 9 at answer depth 1 (null at depth 0: the encoder answers alone). */
export function buildComposition(
  parts: TrainerParts,
  model: ModelOptions,
  slots: readonly (string | null)[],
  scope: string,
): Composition | null {
  if (model.answerDepth !== 1) return null;
  const { encoder, gate, student } = parts;
  const ready = () => slots.map((p, s) => s > 0 && p !== null && student.ready(s));
  return new Composition(
    { encoder, gate, student, ready },
    model.maxExperts,
    model.representationSize,
    scope,
    model.compositionInit ?? 'zero',
  );
}
