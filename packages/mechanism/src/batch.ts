import { createProductKernel, type KernelKind, type ProductKernel } from './batch-kernels.js';
import { projectToSimplexPivot, takeProjectedRow } from './simplex.js';

/**
 * The Nash solver of `nash.ts`, advancing several "lanes" of one world in
 * lockstep: the same Hessians, stake, reference mask and W0, each lane with
 * its own α and τ (the ratios of a Fig 4 sweep). The O(n³) product H_i d is
 * the whole cost of a step; with the lanes side by side every load of H_i
 * feeds one multiply-add per lane, so four ratios cost far less than four
 * separate solves.
 *
 * Every lane's arithmetic is exactly that of `NashSolver.step` (same
 * operations in the same order: each sum over k runs from 0 to n−1 into its
 * own accumulator), so a lane gives the same bits as a single-trial solve,
 * whatever the other lanes do and whichever lanes are still running.
 * Nothing is allocated per step.
 */

/**
 * How "the gradient terms are bounded by ε" (§3) is measured, on the
 * projected gradient g̃ = (Π(W + λg) − W)/λ of every row:
 * - 'row': max over rows of ‖g̃_i‖₂ (the first reading of this package);
 * - 'entry': max over all entries |g̃_ij| (every term of eq 14 bounded by ε);
 * - 'rms': ‖g̃‖_F / n, the root mean square entry.
 */
export type StoppingNorm = 'row' | 'entry' | 'rms';
export const STOPPING_NORMS: readonly StoppingNorm[] = ['row', 'entry', 'rms'];

/** One world, shared by every lane. */
export interface BatchWorld {
  readonly n: number;
  readonly hessians: Float64Array;
  readonly stake: Float64Array;
  readonly referenceMask: Float64Array;
  readonly W0: Float64Array;
  readonly temperature: number;
}

export interface BatchLane {
  alpha: number;
  tau: number;
}

export interface BatchOptions {
  lambda: number;
  epsilon: number;
  maxSteps: number;
  stoppingNorm: StoppingNorm;
  /** Called when a lane stops (for progress lines). */
  onLaneDone?: (lane: number, result: BatchLaneResult) => void;
}

export interface BatchLaneResult {
  W: Float64Array;
  steps: number;
  converged: boolean;
  /** The stopping norm at the last step. */
  finalNorm: number;
}

export class BatchNashSolver {
  readonly n: number;
  readonly maxLanes: number;
  private cur: Float64Array;
  private next: Float64Array;
  private mu: Float64Array;
  private muNext: Float64Array;
  /** σ(−μ_j/T) per lane: the mask of every entry w_ij that is exactly 0. */
  private readonly zeroMask: Float64Array;
  /** The mask rows of a step: mrow[(i·A + a)·n + j] for active slot a. */
  private readonly mrow: Float64Array;
  /** H_i d for every row and active lane (d and acc live in the kernel). */
  private readonly kernel: ProductKernel;
  private readonly trial: Float64Array;
  private readonly projected: Float64Array;
  /** [Σ Δ², max |Δ|] of a row projected by full pivoting. */
  private readonly rowNorms = new Float64Array(2);
  private readonly active: Int32Array;
  /** Per active slot: a row's support guess failed this step, so μ_next is re-summed. */
  private readonly muDirty: Uint8Array;

  /** `kernel`: the product's implementation ('wasm', the default, falls back to 'js' without WebAssembly SIMD). */
  constructor(n: number, maxLanes: number, kernel: KernelKind = 'wasm') {
    if (!Number.isInteger(n) || n < 2) throw new RangeError(`n must be an integer >= 2, got ${n}`);
    if (!Number.isInteger(maxLanes) || maxLanes < 1)
      throw new RangeError(`maxLanes must be an integer >= 1, got ${maxLanes}`);
    this.n = n;
    this.maxLanes = maxLanes;
    const nn = n * n;
    this.cur = new Float64Array(maxLanes * nn);
    this.next = new Float64Array(maxLanes * nn);
    this.mu = new Float64Array(maxLanes * n);
    this.muNext = new Float64Array(maxLanes * n);
    this.zeroMask = new Float64Array(maxLanes * n);
    this.mrow = new Float64Array(n * maxLanes * n);
    this.kernel = createProductKernel(n, maxLanes, kernel);
    this.trial = new Float64Array(n);
    this.projected = new Float64Array(n);
    this.active = new Int32Array(maxLanes);
    this.muDirty = new Uint8Array(maxLanes);
  }

  solve(world: BatchWorld, lanes: readonly BatchLane[], options: BatchOptions): BatchLaneResult[] {
    const { n } = this;
    const nn = n * n;
    const L = lanes.length;
    if (world.n !== n) throw new RangeError(`solver built for n = ${n}, world has n = ${world.n}`);
    if (L < 1 || L > this.maxLanes) throw new RangeError(`need 1..${this.maxLanes} lanes, got ${L}`);
    if (world.hessians.length !== n * nn) throw new RangeError(`hessians need n^3 = ${n * nn} entries`);
    if (world.W0.length !== nn || world.referenceMask.length !== nn || world.stake.length !== n)
      throw new RangeError('W0, referenceMask and stake must match n');
    if (!(world.temperature > 0)) throw new RangeError(`temperature must be > 0, got ${world.temperature}`);
    const { lambda, epsilon, maxSteps, stoppingNorm } = options;
    if (!(lambda > 0)) throw new RangeError(`lambda must be > 0, got ${lambda}`);
    if (!(epsilon >= 0)) throw new RangeError(`epsilon must be >= 0, got ${epsilon}`);
    for (const lane of lanes) {
      if (!(lane.alpha >= 0 && Number.isFinite(lane.alpha) && lane.tau >= 0 && Number.isFinite(lane.tau)))
        throw new RangeError(`lane alpha and tau must be finite and >= 0, got ${lane.alpha}, ${lane.tau}`);
    }
    const results: Array<BatchLaneResult | undefined> = new Array(L);
    this.kernel.load(world.hessians);
    for (let l = 0; l < L; l++) {
      this.cur.set(world.W0, l * nn);
      this.active[l] = l;
      this.columnShift(world, l);
    }
    let activeCount = L;
    let steps = 0;
    const norms = new Float64Array(L);
    while (activeCount > 0 && steps < maxSteps) {
      this.step(world, lanes, activeCount, lambda, stoppingNorm, norms);
      steps++;
      // A lane whose step moved it by less than λε keeps that step's result and stops (as NashSolver does).
      let kept = 0;
      for (let a = 0; a < activeCount; a++) {
        const l = this.active[a]!;
        const norm = norms[l]!;
        if (norm < epsilon) {
          const r = { W: this.next.slice(l * nn, l * nn + nn), steps, converged: true, finalNorm: norm };
          results[l] = r;
          options.onLaneDone?.(l, r);
        } else this.active[kept++] = l;
      }
      activeCount = kept;
      const t = this.cur;
      this.cur = this.next;
      this.next = t;
      const m = this.mu;
      this.mu = this.muNext;
      this.muNext = m;
    }
    for (let a = 0; a < activeCount; a++) {
      const l = this.active[a]!;
      const r = { W: this.cur.slice(l * nn, l * nn + nn), steps, converged: false, finalNorm: norms[l]! };
      results[l] = r;
      options.onLaneDone?.(l, r);
    }
    return results as BatchLaneResult[];
  }

  /** μ of eq 7 for lane l's current W, exactly as `rank` computes it. */
  private columnShift(world: BatchWorld, l: number): void {
    const { n, cur, mu } = this;
    const wb = l * n * n;
    const mb = l * n;
    mu.fill(0, mb, mb + n);
    for (let i = 0; i < n; i++) {
      const s = world.stake[i]!;
      const base = wb + i * n;
      for (let j = 0; j < n; j++) mu[mb + j]! += s * cur[base + j]!;
    }
    const invN = 1 / n;
    for (let j = 0; j < n; j++) mu[mb + j]! *= invN;
  }

  /**
   * One simultaneous projected-gradient step of the first `A` active lanes;
   * norms[l] gets each lane's stopping norm, and muNext the μ of the new W
   * (summed row by row as the rows are written: the same order as `rank`).
   * Loops are fused so each row is read as few times as possible.
   */
  private step(
    world: BatchWorld,
    lanes: readonly BatchLane[],
    A: number,
    lambda: number,
    stoppingNorm: StoppingNorm,
    norms: Float64Array,
  ): void {
    const { n, cur, next, mu, muNext, zeroMask, mrow, kernel, trial, projected, rowNorms, active, muDirty } =
      this;
    const { d, acc, np } = kernel;
    const nn = n * n;
    const { stake, referenceMask } = world;
    const invT = 1 / world.temperature;
    const invN = 1 / n;
    const invLambda = 1 / lambda;
    for (let a = 0; a < A; a++) {
      const l = active[a]!;
      const mb = l * n;
      for (let j = 0; j < n; j++) zeroMask[mb + j] = 1 / (1 + Math.exp(mu[mb + j]! * invT));
      muNext.fill(0, mb, mb + n);
      muDirty[a] = 0;
      norms[l] = 0;
    }
    // Pass 1: the mask rows and d = m − m⁰ of every row and lane (all read the W and μ of the step's start).
    for (let i = 0; i < n; i++) {
      const s = stake[i]!;
      const rowBase = i * n;
      for (let a = 0; a < A; a++) {
        const l = active[a]!;
        const wb = l * nn + rowBase;
        const mb = l * n;
        const rb = (i * A + a) * n;
        const vb = (i * A + a) * np;
        for (let j = 0; j < n; j++) {
          const w = cur[wb + j]!;
          // (μ_j − s·0)·invT = μ_j·invT exactly, so the cached value is the same bits.
          const m = w === 0 ? zeroMask[mb + j]! : 1 / (1 + Math.exp((mu[mb + j]! - s * w) * invT));
          mrow[rb + j] = m;
          d[vb + j] = m - referenceMask[rowBase + j]!;
        }
      }
    }
    // The O(n³) part: H_i d for every row and lane at once.
    kernel.run(A);
    // Pass 2, row by row (μ_next is summed in row order, as `rank` does): gradient, projection, norms.
    for (let i = 0; i < n; i++) {
      const s = stake[i]!;
      const rowBase = i * n;
      for (let a = 0; a < A; a++) {
        const l = active[a]!;
        const lane = lanes[l]!;
        const wb = l * nn + rowBase;
        const mb = l * n;
        const rb = (i * A + a) * n;
        const vb = (i * A + a) * np;
        const c = -lane.alpha * 2 * s * (1 - 1 / n) * invT;
        const pull = (lane.tau * s) / n;
        // trial = W_i + λ ∂P_i/∂W_i, and the sum over W_i's support for the projection guess
        let supportSum = 0;
        let supportCount = 0;
        for (let j = 0; j < n; j++) {
          const m = mrow[rb + j]!;
          let g = c * acc[vb + j]! * m * (1 - m);
          if (j === i) g += pull;
          const w = cur[wb + j]!;
          const v = w + lambda * g;
          trial[j] = v;
          if (w > 0) {
            supportSum += v;
            supportCount++;
          }
        }
        // Projection with the support guess, fused with the norms, W_next and μ_next:
        // θ from the current support; if the entries above θ are exactly that
        // support, θ is Michelot's and this pass is the whole row.
        let sq = 0;
        let maxAbs = 0;
        let disagree = 1;
        if (supportCount > 0) {
          disagree = 0;
          const theta = (supportSum - 1) / supportCount;
          for (let j = 0; j < n; j++) {
            const t = trial[j]!;
            const w = cur[wb + j]!;
            const v = Math.max(t - theta, 0);
            disagree |= (t > theta ? 1 : 0) ^ (w > 0 ? 1 : 0);
            const dlt = v - w;
            sq += dlt * dlt;
            const ad = Math.abs(dlt);
            if (ad > maxAbs) maxAbs = ad;
            next[wb + j] = v;
            muNext[mb + j]! += s * v;
          }
        }
        if (disagree !== 0) {
          // The support changed: full pivoting, and μ_next of this lane is
          // summed again from scratch at the end of the step (same order, same bits).
          projectToSimplexPivot(trial, projected, n);
          takeProjectedRow(projected, cur, next, wb, n, rowNorms);
          sq = rowNorms[0]!;
          maxAbs = rowNorms[1]!;
          muDirty[a] = 1;
        }
        if (stoppingNorm === 'row') {
          const norm = Math.sqrt(sq) * invLambda;
          if (norm > norms[l]!) norms[l] = norm;
        } else if (stoppingNorm === 'entry') {
          const norm = maxAbs * invLambda;
          if (norm > norms[l]!) norms[l] = norm;
        } else norms[l]! += sq; // summed here, finished below
      }
    }
    for (let a = 0; a < A; a++) {
      const l = active[a]!;
      const mb = l * n;
      if (muDirty[a] !== 0) {
        const wb = l * nn;
        muNext.fill(0, mb, mb + n);
        for (let i = 0; i < n; i++) {
          const s = stake[i]!;
          const base = wb + i * n;
          for (let j = 0; j < n; j++) muNext[mb + j]! += s * next[base + j]!;
        }
      }
      for (let j = 0; j < n; j++) muNext[mb + j]! *= invN;
      if (stoppingNorm === 'rms') norms[l] = (Math.sqrt(norms[l]!) * invLambda) / n;
    }
  }
}
