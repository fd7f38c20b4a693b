/**
 * Backend chosen by measurement (issue 19). The fixed order WebGPU → WebGL →
 * WASM → CPU guesses that a GPU is faster; with small models (or a software
 * GPU, or a slow one) WASM can win by ten times, and with the models people
 * bring a GPU for the GPU should. So at start every backend that initialises
 * runs a short trial of the real workload (the peer's own training step, on
 * a throwaway model of the same shape), and the fastest median step wins.
 *
 * Bounded: per backend, one first step (kernel compilation, uploads) and then
 * up to `timedSteps` timed steps, stopping early once `budgetMs` is spent on
 * that backend. A step that has started runs to its end (a GPU step cannot
 * be cut), so the bound is the budget plus one step. A forced backend
 * (`?backend=`, `--backend`) skips the trial.
 */
import {
  activationFailure,
  type BackendEnvironment,
  BackendError,
  BROWSER_ORDER,
  defaultEnvironment,
  NODE_ORDER,
  type SelectBackendOptions,
  selectBackend,
  sortAttempts,
} from './backend.js';
import type { BackendAttempt, BackendName, BackendReport, BackendTrialTimes } from './state.js';
import type { Batch, Task } from './task.js';
import { Trainer } from './trainer.js';
import type { ModelOptions, StepOptions } from './trainer-options.js';

/** Timed steps per backend after its first one. */
export const DEFAULT_TRIAL_STEPS = 3;
/** Per-backend time budget of the trial, first step included, in ms (a started step still finishes). */
export const DEFAULT_TRIAL_BUDGET_MS = 3000;

/** The trial's workload, built on the backend that is active when `create` is called. */
export interface TrialWorkload {
  step(): Promise<void>;
  dispose(): void;
}

export interface TrialOptions extends SelectBackendOptions {
  /** Builds the workload on the active backend (e.g. a Trainer of the real model and task, with no network). */
  workload: () => TrialWorkload | Promise<TrialWorkload>;
  timedSteps?: number;
  budgetMs?: number;
  /** Clock in ms (injected in tests). */
  now?: () => number;
}

/** Runs the workload on the active backend: the first step, then timed steps within the budget. */
export async function timeTrial(
  workload: TrialOptions['workload'],
  timedSteps = DEFAULT_TRIAL_STEPS,
  budgetMs = DEFAULT_TRIAL_BUDGET_MS,
  now: () => number = () => performance.now(),
): Promise<BackendTrialTimes> {
  const w = await workload();
  try {
    const start = now();
    await w.step();
    const firstStepMs = now() - start;
    const times: number[] = [];
    while (times.length < timedSteps && (times.length === 0 || now() - start < budgetMs)) {
      const t0 = now();
      await w.step();
      times.push(now() - t0);
    }
    const sorted = [...times].sort((a, b) => a - b);
    return { firstStepMs, stepMs: sorted[Math.floor(sorted.length / 2)]!, steps: times.length };
  } finally {
    w.dispose();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Tries every backend this runtime has, activates the one with the fastest
 * median trial step, and reports every figure and why the others lost. With
 * `force` it is `selectBackend` (no trial). Throws BackendError when no
 * backend both initialises and completes its trial.
 */
export async function selectBackendByTrial(opts: TrialOptions): Promise<BackendReport> {
  if (opts.force) return selectBackend(opts);
  const env: BackendEnvironment = opts.env ?? defaultEnvironment(opts.wasmPaths);
  const order: readonly BackendName[] = env.isNode ? ['webgpu', 'webgl', ...NODE_ORDER] : BROWSER_ORDER;
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    const failure = await activationFailure(name, env);
    if (failure !== null) {
      attempts.push({ backend: name, ok: false, reason: failure });
      continue;
    }
    try {
      const trial = await timeTrial(opts.workload, opts.timedSteps, opts.budgetMs, opts.now);
      attempts.push({ backend: name, ok: true, trial });
    } catch (err) {
      attempts.push({ backend: name, ok: false, reason: `its trial step failed: ${describe(err)}` });
    }
  }
  const ranked = attempts
    .filter((a): a is BackendAttempt & { trial: BackendTrialTimes } => a.ok && a.trial !== undefined)
    .sort((a, b) => a.trial.stepMs - b.trial.stepMs);
  for (const best of ranked) {
    // The last backend tried is the active one: switch back to the winner.
    const failure = await activationFailure(best.backend, env);
    if (failure === null) {
      for (const a of attempts)
        if (a.ok && a.backend !== best.backend)
          a.reason = `slower in the trial (${a.trial!.stepMs.toFixed(1)} ms per step vs ${best.trial.stepMs.toFixed(1)} ms)`;
      return { chosen: best.backend, forced: false, attempts: sortAttempts(attempts), basis: 'trial' };
    }
    best.ok = false;
    best.reason = `could not be activated again after its trial: ${failure}`;
  }
  const failed = attempts.map((a) => `${a.backend}: ${a.reason ?? 'ok'}`).join('; ');
  throw new BackendError('no-backend', `no tfjs backend could run a training step (${failed})`);
}

/**
 * The peer's own training step as the trial workload: a throwaway Trainer of
 * the real model shape and batch size, alone (no network), fed the first rows
 * of the task's held-out set so the trial draws nothing from the private
 * shard's stream (a seeded run trains on the same batches with or without it).
 */
export function trainerTrialWorkload(
  task: Task,
  model: ModelOptions,
  step: StepOptions,
): () => TrialWorkload {
  return () => {
    const ev = task.evalSet();
    const size = Math.max(1, Math.min(step.batchSize, ev.size));
    const batch: Batch = {
      x: ev.x.subarray(0, size * task.inputSize),
      y: ev.y.subarray(0, size * task.numClasses),
      size,
    };
    const trialTask: Task = {
      name: task.name,
      inputSize: task.inputSize,
      numClasses: task.numClasses,
      shardSize: size,
      nextBatch: () => batch,
      evalSet: () => batch,
    };
    const trainer = new Trainer(trialTask, 'backend-trial', null, model, step);
    return {
      step: async () => {
        await trainer.step();
      },
      dispose: () => trainer.dispose(),
    };
  };
}
