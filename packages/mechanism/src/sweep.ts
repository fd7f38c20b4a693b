import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BatchNashSolver } from './batch.js';
import type { KernelKind } from './batch-kernels.js';
import {
  checkSweep,
  type Fig4Options,
  type Fig4Result,
  type Fig4Trial,
  fig4TrialFromWeights,
  summarizeFig4,
} from './experiment.js';
import { createWorld, DEFAULT_SETTINGS, referenceMask, type SimulationSettings, trialSeed } from './world.js';

/**
 * The fast Fig 4 sweep: every world's ratios advance together in one
 * `BatchNashSolver` (one pass over H per step for all α/τ), and the worlds
 * are handed to whichever worker thread is free. Worlds cost about the same
 * (n = 32: 1.5-1.7 s of CPU each), so ten of them split evenly over two
 * workers; one job per (world, ratio) (`jobs: 'lane'`) balances finer but
 * costs ~6 % more CPU (a lane alone gets less from each load of H_i), and
 * measured no faster. A lane's result depends only on the sweep seed, its world's index, its
 * ratio and the settings, never on which worker solved it, when, or beside
 * which other lanes, so the output is the same bit for bit for any number of
 * workers (and the same as `runFig4`, the single-trial path).
 */

export interface Fig4SweepOptions extends Fig4Options {
  /** Worker threads (default: available cores, at most one per job); 0 solves in this thread. */
  workers?: number;
  /** Jobs for the workers: one per world, all its ratios together ('world', default), or one per (world, ratio). */
  jobs?: SweepJobKind;
  /** The H_i d product: 'wasm' (default; JS where WebAssembly SIMD is missing) or 'js' (the benchmark's reference). */
  kernel?: KernelKind;
  /** Called as each (ratio, trial) finishes, in completion order. */
  onLaneDone?: (ratio: number, trial: number, result: Fig4Trial) => void;
}

/** Everything a worker needs to solve worlds of one sweep (structured-clone safe). */
export interface SweepJobSpec {
  n: number;
  ratios: number[];
  seed: number;
  settings: SimulationSettings;
  kernel: KernelKind;
}

export type SweepJobKind = 'lane' | 'world';

/**
 * Solves world `t` of a sweep at the ratios `ratioIndices` (default: all),
 * together; calls `onLane` as lanes stop. Returns the trials by ratio index.
 */
export function solveSweepWorld(
  spec: SweepJobSpec,
  t: number,
  solver: BatchNashSolver = new BatchNashSolver(spec.n, spec.ratios.length, spec.kernel),
  onLane?: (ratioIndex: number, trial: Fig4Trial) => void,
  ratioIndices: readonly number[] = spec.ratios.map((_, r) => r),
): Fig4Trial[] {
  const { n, ratios, seed, settings } = spec;
  const world = createWorld(n, trialSeed(seed, t), settings.hessianDofPerPeer, settings.world);
  const out: Fig4Trial[] = new Array(ratios.length);
  solver.solve(
    {
      n,
      hessians: world.hessians,
      stake: world.stake,
      referenceMask: referenceMask(world, settings),
      W0: world.W0,
      temperature: settings.temperature,
    },
    ratioIndices.map((r) => ({ alpha: ratios[r]!, tau: 1 })),
    {
      lambda: settings.lambda,
      epsilon: settings.epsilon,
      maxSteps: settings.stepsPerPeer * n,
      stoppingNorm: settings.stoppingNorm,
      onLaneDone: (lane, r) => {
        const trial = fig4TrialFromWeights(world, r.W, r.steps, r.converged, trialSeed(seed, t));
        const ratioIndex = ratioIndices[lane]!;
        out[ratioIndex] = trial;
        onLane?.(ratioIndex, trial);
      },
    },
  );
  return out;
}

/** Messages between the sweep and its workers. */
/** A job: world `trial` at the ratios `ratioIndices`, solved together. */
export type SweepToWorker = { type: 'solve'; trial: number; ratioIndices: number[] } | { type: 'stop' };
export type WorkerToSweep =
  | { type: 'lane'; trial: number; ratioIndex: number; result: Fig4Trial }
  | { type: 'done' }
  | { type: 'error'; message: string };

export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

export async function runFig4Sweep(options: Fig4SweepOptions): Promise<Fig4Result> {
  const { n, trials, ratios, seed } = options;
  const settings = options.settings ?? DEFAULT_SETTINGS;
  checkSweep(n, trials, ratios);
  const spec: SweepJobSpec = {
    n,
    ratios: [...ratios],
    seed,
    settings: { ...settings },
    kernel: options.kernel ?? 'wasm',
  };
  const perRatio: Fig4Trial[][] = ratios.map(() => new Array<Fig4Trial>(trials));
  const onLane = (t: number, r: number, result: Fig4Trial) => {
    perRatio[r]![t] = result;
    options.onLaneDone?.(ratios[r]!, t, result);
  };
  const jobs: Array<{ trial: number; ratioIndices: number[] }> = [];
  for (let t = 0; t < trials; t++) {
    if ((options.jobs ?? 'world') === 'world') jobs.push({ trial: t, ratioIndices: ratios.map((_, r) => r) });
    else for (let r = 0; r < ratios.length; r++) jobs.push({ trial: t, ratioIndices: [r] });
  }
  const workers = Math.min(options.workers ?? defaultWorkerCount(), jobs.length);
  if (!Number.isInteger(workers) || workers < 0)
    throw new RangeError(`workers must be an integer >= 0, got ${options.workers}`);
  if (workers === 0) {
    const solver = new BatchNashSolver(n, ratios.length, spec.kernel);
    for (let t = 0; t < trials; t++) solveSweepWorld(spec, t, solver, (r, result) => onLane(t, r, result));
  } else {
    await runOnWorkers(spec, jobs, workers, onLane);
  }
  return summarizeFig4(options, settings, perRatio);
}

/** Jobs handed out one at a time to whichever worker is free. */
async function runOnWorkers(
  spec: SweepJobSpec,
  jobs: ReadonlyArray<{ trial: number; ratioIndices: number[] }>,
  count: number,
  onLane: (t: number, r: number, result: Fig4Trial) => void,
): Promise<void> {
  // The worker runs this package's TypeScript source: a plain .mjs entry
  // loads it through tsx (the parent's loader hooks do not reach workers on Node 20).
  const url = new URL('./sweep-worker-boot.mjs', import.meta.url);
  let nextJob = 0;
  const pool: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      const give = (w: Worker) => {
        const job = jobs[nextJob++];
        if (job) w.postMessage({ type: 'solve', ...job } satisfies SweepToWorker);
      };
      for (let k = 0; k < count; k++) {
        const w = new Worker(url, { workerData: spec });
        pool.push(w);
        w.on('message', (msg: WorkerToSweep) => {
          if (msg.type === 'lane') onLane(msg.trial, msg.ratioIndex, msg.result);
          else if (msg.type === 'done') {
            finished++;
            if (finished === jobs.length) resolve();
            else give(w);
          } else reject(new Error(`sweep worker failed: ${msg.message}`));
        });
        w.on('error', reject);
        w.on('exit', (code) => {
          if (finished < jobs.length) reject(new Error(`sweep worker exited with code ${code}`));
        });
        give(w);
      }
    });
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
