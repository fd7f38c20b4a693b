import type { StoppingNorm } from './batch.js';
import { columnShift } from './mask.js';
import { type PayoffModel, PayoffWorkspace, rowPayoffGradient, validateModel } from './payoff.js';
import { projectToSimplexPivot, takeProjectedRow } from './simplex.js';

/**
 * The competitive equilibrium of section 3: every peer simultaneously takes a
 * projected gradient-ascent step on its own payoff (eq 13-14),
 *   W_i ← Π_simplex(W_i + λ ∂P_i/∂W_i),
 * with λ = 0.005, until "the gradient terms are bounded by ε": by default
 * every entry of the projected gradient
 *   g̃_i = (Π(W_i + λ g_i) − W_i) / λ
 * is below ε = 1e-3 in absolute value (no peer can gain by moving: a Nash
 * equilibrium of the gradient game, up to ε), or after 1000·n steps (the
 * paper's protocol). `stoppingNorm` selects the row L2 or RMS norm instead.
 * The projected gradient is used rather than the raw one because on the
 * simplex boundary the raw gradient never vanishes (e.g. at W = I the pull
 * towards w_ii stays s_i/n forever).
 */
export interface NashOptions {
  /** Learning rate λ (paper: 0.005). */
  lambda?: number;
  /** Stop when the stopping norm of the projected gradient is below this. */
  epsilon?: number;
  /** Which norm (default 'entry': every term of eq 14; see `StoppingNorm`). */
  stoppingNorm?: StoppingNorm;
  /** Step cap (paper: 1000·n). */
  maxSteps?: number;
  /** Called every `progressEvery` steps (for progress lines). */
  onProgress?: (step: number, maxProjectedGradientNorm: number) => void;
  progressEvery?: number;
}

export interface NashResult {
  /** Weights at the end (n×n, rows on the simplex). */
  W: Float64Array;
  /** Steps taken. */
  steps: number;
  /** True when the ε criterion was met before the cap. */
  converged: boolean;
  /** The stopping norm of the projected gradient at the last step. */
  maxProjectedGradientNorm: number;
}

export const NASH_LEARNING_RATE = 0.005;
export const NASH_DEFAULT_EPSILON = 1e-3;
export const NASH_STEPS_PER_PEER = 1000;

/**
 * Reusable solver state: all buffers for one n, so repeated trials allocate
 * only their result.
 */
export class NashSolver {
  readonly n: number;
  private readonly ws: PayoffWorkspace;
  private current: Float64Array;
  private next: Float64Array;
  private readonly grad: Float64Array;
  private readonly trial: Float64Array;
  private readonly projected: Float64Array;
  /** [Σ Δ², max |Δ|] of the row just taken. */
  private readonly rowNorms = new Float64Array(2);

  constructor(n: number) {
    this.n = n;
    this.ws = new PayoffWorkspace(n);
    this.current = new Float64Array(n * n);
    this.next = new Float64Array(n * n);
    this.grad = new Float64Array(n);
    this.trial = new Float64Array(n);
    this.projected = new Float64Array(n);
  }

  solve(model: PayoffModel, W0: Float64Array, options: NashOptions = {}): NashResult {
    validateModel(model);
    const n = this.n;
    if (model.n !== n) throw new RangeError(`solver built for n = ${n}, model has n = ${model.n}`);
    if (W0.length !== n * n) throw new RangeError(`W0 needs ${n * n} entries, got ${W0.length}`);
    const lambda = options.lambda ?? NASH_LEARNING_RATE;
    const epsilon = options.epsilon ?? NASH_DEFAULT_EPSILON;
    const maxSteps = options.maxSteps ?? NASH_STEPS_PER_PEER * n;
    const every = options.progressEvery ?? 1000;
    const norm = options.stoppingNorm ?? 'entry';
    if (!(lambda > 0)) throw new RangeError(`lambda must be > 0, got ${lambda}`);
    if (!(epsilon >= 0)) throw new RangeError(`epsilon must be >= 0, got ${epsilon}`);

    this.current.set(W0);
    let steps = 0;
    let maxNorm = Number.POSITIVE_INFINITY;
    let converged = false;
    while (steps < maxSteps) {
      maxNorm = this.step(model, this.current, this.next, lambda, norm);
      steps++;
      const t = this.current;
      this.current = this.next;
      this.next = t;
      // The step just taken moved W by less than λε (in the stopping norm):
      // keep its result and stop. At α/τ = 1 this last step is the one that
      // clips the remaining off-diagonal weight to exactly 0 (W = I).
      if (maxNorm < epsilon) {
        converged = true;
        break;
      }
      if (options.onProgress && steps % every === 0) options.onProgress(steps, maxNorm);
    }
    return { W: Float64Array.from(this.current), steps, converged, maxProjectedGradientNorm: maxNorm };
  }

  /**
   * One simultaneous projected-gradient step of every row: reads W, writes
   * W_next (must not alias W: all gradients are taken at the same W).
   * Returns the stopping norm of the projected gradient (Π(W_i + λg_i) − W_i)/λ:
   * by default the largest row L2 norm. Allocates nothing.
   */
  step(
    model: PayoffModel,
    W: Float64Array,
    Wnext: Float64Array,
    lambda: number = NASH_LEARNING_RATE,
    stoppingNorm: StoppingNorm = 'row',
  ): number {
    const n = this.n;
    const { ws, grad, trial, projected, rowNorms } = this;
    const invLambda = 1 / lambda;
    columnShift(W, model.stake, n, ws.mu);
    let maxNorm = 0;
    let maxAbs = 0;
    let totalSq = 0;
    for (let i = 0; i < n; i++) {
      rowPayoffGradient(model, W, i, ws, grad, 0);
      const base = i * n;
      for (let j = 0; j < n; j++) trial[j] = W[base + j]! + lambda * grad[j]!;
      projectToSimplexPivot(trial, projected, n);
      takeProjectedRow(projected, W, Wnext, base, n, rowNorms);
      const sq = rowNorms[0]!;
      if (rowNorms[1]! > maxAbs) maxAbs = rowNorms[1]!;
      const norm = Math.sqrt(sq) * invLambda;
      if (norm > maxNorm) maxNorm = norm;
      totalSq += sq;
    }
    if (stoppingNorm === 'entry') return maxAbs * invLambda;
    if (stoppingNorm === 'rms') return (Math.sqrt(totalSq) * invLambda) / n;
    return maxNorm;
  }
}

/** One-shot convenience wrapper around `NashSolver`. */
export function solveNash(model: PayoffModel, W0: Float64Array, options?: NashOptions): NashResult {
  return new NashSolver(model.n).solve(model, W0, options);
}
