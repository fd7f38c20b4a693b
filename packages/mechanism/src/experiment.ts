import { AdaptiveTauController } from './adaptive-tau.js';
import { NashSolver } from './nash.js';
import type { PayoffModel } from './payoff.js';
import { rank } from './rank.js';
import { diagonalToOffDiagonalRatio, sparsity } from './sparsity.js';
import { meanStd, pearson, spearman } from './stats.js';
import {
  createWorld,
  DEFAULT_SETTINGS,
  isIdentity,
  referenceMask,
  type SimulationSettings,
  type TrialWorld,
  trialSeed,
} from './world.js';

export {
  createWorld,
  DEFAULT_SETTINGS,
  gradeHessians,
  IDENTITY_TOLERANCE,
  isIdentity,
  QUALITY_SPREAD,
  type ReferenceReading,
  referenceMask,
  type SimulationSettings,
  type TrialWorld,
  trialSeed,
  WORLD_KINDS,
  type WorldKind,
} from './world.js';

/**
 * The experiments of section 3 (Fig 4 and Fig 5), as pure functions: they
 * return plain data and never touch files or the console (the CLI does).
 */

export interface Fig4Trial {
  seed: number;
  /** Competitive rank R* at the end of the solve (eq 4 with S = 1). */
  rStar: number[];
  /** Ideal rank of eq (2). */
  ideal: number[];
  /** null when undefined (R* flat, e.g. W = I). */
  pearson: number | null;
  spearman: number | null;
  /** Diagnostic: Pearson(R*, coupledRank) — not in the paper. */
  pearsonCoupled: number | null;
  steps: number;
  converged: boolean;
  identity: boolean;
  sparsity: number;
}

export function runFig4Trial(
  world: TrialWorld,
  alphaOverTau: number,
  settings: SimulationSettings = DEFAULT_SETTINGS,
  seed = 0,
  solver: NashSolver = new NashSolver(world.n),
): Fig4Trial {
  const { n } = world;
  const model: PayoffModel = {
    n,
    alpha: alphaOverTau,
    tau: 1,
    temperature: settings.temperature,
    stake: world.stake,
    hessians: world.hessians,
    referenceMask: referenceMask(world, settings),
  };
  const result = solver.solve(model, world.W0, {
    lambda: settings.lambda,
    epsilon: settings.epsilon,
    stoppingNorm: settings.stoppingNorm,
    maxSteps: settings.stepsPerPeer * n,
  });
  return fig4TrialFromWeights(world, result.W, result.steps, result.converged, seed);
}

/** The Fig 4 statistics of one solved trial: R* from the final W, compared with the ideal rank. */
export function fig4TrialFromWeights(
  world: TrialWorld,
  W: Float64Array,
  steps: number,
  converged: boolean,
  seed: number,
): Fig4Trial {
  const { n } = world;
  const rStar = rank(W, world.stake, n);
  const p = pearson(rStar, world.ideal);
  const s = spearman(rStar, world.ideal);
  const pc = pearson(rStar, world.coupled);
  return {
    seed,
    rStar: Array.from(rStar),
    ideal: Array.from(world.ideal),
    pearson: Number.isFinite(p) ? p : null,
    spearman: Number.isFinite(s) ? s : null,
    pearsonCoupled: Number.isFinite(pc) ? pc : null,
    steps,
    converged,
    identity: isIdentity(W, n),
    sparsity: sparsity(W, n),
  };
}

export interface Stat {
  mean: number | null;
  std: number | null;
  /** Trials where the statistic was defined. */
  count: number;
}

export interface Fig4RatioSummary {
  alphaOverTau: number;
  pearson: Stat;
  spearman: Stat;
  /** Diagnostic, not in the paper: Pearson(R*, coupledRank). */
  pearsonCoupled: Stat;
  /** Fraction of trials that ended at W = I (every w_ii ≥ 1 − 1e-6). */
  identityFraction: number;
  /** Fraction of trials that met the ε criterion before the step cap. */
  convergedFraction: number;
  meanSteps: number;
  meanSparsity: number;
  trials: Fig4Trial[];
}

export interface Fig4Options {
  n: number;
  trials: number;
  ratios: number[];
  seed: number;
  settings?: SimulationSettings;
  /** Called after every trial (for progress lines). */
  onTrial?: (ratio: number, trial: number, result: Fig4Trial) => void;
}

export interface Fig4Result {
  experiment: 'fig4';
  n: number;
  trials: number;
  seed: number;
  settings: SimulationSettings;
  ratios: Fig4RatioSummary[];
}

function stat(values: Array<number | null>): Stat {
  const finite = values.filter((v): v is number => v !== null);
  const m = meanStd(finite);
  return { mean: m.count > 0 ? m.mean : null, std: m.count > 0 ? m.std : null, count: m.count };
}

export function checkSweep(n: number, trials: number, ratios: number[]): void {
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`n must be an integer >= 2, got ${n}`);
  if (!Number.isInteger(trials) || trials < 1)
    throw new RangeError(`trials must be an integer >= 1, got ${trials}`);
  if (ratios.length === 0) throw new RangeError('need at least one alpha/tau ratio');
  for (const r of ratios) {
    if (!(r >= 0) || !Number.isFinite(r))
      throw new RangeError(`alpha/tau ratios must be finite and >= 0, got ${r}`);
  }
}

/**
 * Fig 4: for every α/τ, `trials` worlds (the same worlds for every ratio, so
 * the ratios are compared on identical Hessians), each solved to its
 * competitive equilibrium; R* compared with the ideal rank.
 */
export function runFig4(options: Fig4Options): Fig4Result {
  const { n, trials, ratios, seed } = options;
  const settings = options.settings ?? DEFAULT_SETTINGS;
  checkSweep(n, trials, ratios);
  const worlds = Array.from({ length: trials }, (_, t) =>
    createWorld(n, trialSeed(seed, t), settings.hessianDofPerPeer, settings.world),
  );
  const solver = new NashSolver(n);
  const perRatio = ratios.map((ratio) =>
    worlds.map((world, t) => {
      const r = runFig4Trial(world, ratio, settings, trialSeed(seed, t), solver);
      options.onTrial?.(ratio, t, r);
      return r;
    }),
  );
  return summarizeFig4(options, settings, perRatio);
}

/** Fig4Result from every trial's statistics, `perRatio[r][t]` for ratio r and trial t. */
export function summarizeFig4(
  options: Pick<Fig4Options, 'n' | 'trials' | 'ratios' | 'seed'>,
  settings: SimulationSettings,
  perRatio: Fig4Trial[][],
): Fig4Result {
  const { n, trials, ratios, seed } = options;
  const summaries: Fig4RatioSummary[] = ratios.map((ratio, r) => {
    const results = perRatio[r]!;
    const mean = (f: (r: Fig4Trial) => number) => results.reduce((a, r) => a + f(r), 0) / results.length;
    return {
      alphaOverTau: ratio,
      pearson: stat(results.map((r) => r.pearson)),
      spearman: stat(results.map((r) => r.spearman)),
      pearsonCoupled: stat(results.map((r) => r.pearsonCoupled)),
      identityFraction: mean((r) => (r.identity ? 1 : 0)),
      convergedFraction: mean((r) => (r.converged ? 1 : 0)),
      meanSteps: mean((r) => r.steps),
      meanSparsity: mean((r) => r.sparsity),
      trials: results,
    };
  });
  return { experiment: 'fig4', n, trials, seed, settings: { ...settings }, ratios: summaries };
}

/**
 * What the Fig 5 controller measures. 'ratio': Σdiag/Σoffdiag, the wording
 * of section 3 ("the ratio between the main diagonal and the remaining
 * weights"), in which a target of 1 means half of all weight on self.
 * 'eq17': Σdiag/ΣW as eq (17) is printed, where a target of 1 is reached
 * only at W = I.
 */
export type SparsityMeasure = 'ratio' | 'eq17';

export interface Fig5Options {
  n: number;
  seed: number;
  target: number;
  /** Loss weight α (paper: 1). */
  alpha?: number;
  /** Controller integral gain (τ change per unit of sparsity error per step). */
  gain?: number;
  /** Controller proportional gain. */
  proportionalGain?: number;
  /** Total steps (default stepsPerPeer · n). */
  steps?: number;
  measure?: SparsityMeasure;
  /** Keep every k-th step in the output (always the first and last). */
  recordEvery?: number;
  maxTau?: number;
  settings?: SimulationSettings;
  onProgress?: (step: number, tau: number, measured: number) => void;
}

export interface Fig5Point {
  step: number;
  tau: number;
  /** Σdiag/ΣW (eq 17). */
  sparsity: number;
  /** Σdiag/Σoffdiag (capped for JSON at MEASURE_CAP). */
  diagonalRatio: number;
  /** The value fed to the controller (one of the two above). */
  measured: number;
  /** Pearson(R, ideal) at this step; null when R is flat. */
  pearson: number | null;
}

export interface Fig5Result {
  experiment: 'fig5';
  n: number;
  seed: number;
  target: number;
  alpha: number;
  gain: number;
  proportionalGain: number;
  measure: SparsityMeasure;
  settings: SimulationSettings;
  points: Fig5Point[];
}

/**
 * Controller gains for Fig 5, tuned on n = 16: the weights take thousands of
 * steps to answer a change of τ, so the integral gain is small and the
 * proportional part supplies the damping (integral alone rings for >30k steps).
 */
export const FIG5_DEFAULT_GAIN = 5e-5;
export const FIG5_DEFAULT_PROPORTIONAL_GAIN = 0.5;

/** Largest diagonal/off-diagonal ratio passed on: W = I would be +∞. */
export const MEASURE_CAP = 1e3;

/**
 * Fig 5: one world, α fixed, τ starting at 0 and adapted after every
 * simultaneous gradient step by `AdaptiveTauController` so that the measured
 * sparsity reaches the target. Stake stays at S = 1 (τ acts through the
 * payoff, as in eq 12-15), which isolates the controller from stake growth.
 */
export function runFig5(options: Fig5Options): Fig5Result {
  const { n, seed, target } = options;
  const settings = options.settings ?? DEFAULT_SETTINGS;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`n must be an integer >= 2, got ${n}`);
  if (!(target > 0) || !Number.isFinite(target)) throw new RangeError(`target must be > 0, got ${target}`);
  const measure = options.measure ?? 'ratio';
  if (measure === 'eq17' && target > 1)
    throw new RangeError(`an eq17 sparsity target must be in (0, 1], got ${target}`);
  const alpha = options.alpha ?? 1;
  const gain = options.gain ?? FIG5_DEFAULT_GAIN;
  const totalSteps = options.steps ?? settings.stepsPerPeer * n;
  const recordEvery = Math.max(1, options.recordEvery ?? Math.ceil(totalSteps / 400));
  const world = createWorld(n, trialSeed(seed, 0), settings.hessianDofPerPeer, settings.world);
  const proportionalGain = options.proportionalGain ?? FIG5_DEFAULT_PROPORTIONAL_GAIN;
  const controller = new AdaptiveTauController({
    target,
    gain,
    proportionalGain,
    initialTau: 0,
    maxTau: options.maxTau ?? 10,
  });
  const model = {
    n,
    alpha,
    tau: controller.tau,
    temperature: settings.temperature,
    stake: world.stake,
    hessians: world.hessians,
    referenceMask: referenceMask(world, settings),
  };
  const solver = new NashSolver(n);
  let W = Float64Array.from(world.W0);
  let next = new Float64Array(n * n);
  const R = new Float64Array(n);
  const points: Fig5Point[] = [];
  const record = (step: number, measured: number) => {
    rank(W, world.stake, n, R);
    const p = pearson(R, world.ideal);
    points.push({
      step,
      tau: model.tau,
      sparsity: sparsity(W, n),
      diagonalRatio: Math.min(diagonalToOffDiagonalRatio(W, n), MEASURE_CAP),
      measured,
      pearson: Number.isFinite(p) ? p : null,
    });
  };
  const measureNow = () =>
    measure === 'eq17' ? sparsity(W, n) : Math.min(diagonalToOffDiagonalRatio(W, n), MEASURE_CAP);
  for (let step = 0; step < totalSteps; step++) {
    const measured = measureNow();
    if (step % recordEvery === 0) record(step, measured);
    solver.step(model, W, next, settings.lambda);
    const t = W;
    W = next;
    next = t;
    model.tau = controller.update(measureNow());
    if (options.onProgress && (step + 1) % 1000 === 0) options.onProgress(step + 1, model.tau, measureNow());
  }
  record(totalSteps, measureNow());
  return {
    experiment: 'fig5',
    n,
    seed,
    target,
    alpha,
    gain,
    proportionalGain,
    measure,
    settings: { ...settings },
    points,
  };
}
