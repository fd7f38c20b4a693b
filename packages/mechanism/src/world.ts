import type { StoppingNorm } from './batch.js';
import { coupledRank, idealRank } from './ideal-rank.js';
import { competitiveMask } from './mask.js';
import { NASH_DEFAULT_EPSILON, NASH_LEARNING_RATE, NASH_STEPS_PER_PEER } from './nash.js';
import { randomPsdHessians, randomSimplexMatrix } from './random.js';
import { createRng } from './rng.js';

/**
 * The random worlds of the section 3 experiments and the settings they are
 * solved under. Pure: no I/O.
 */

/**
 * What F_W0 of eq (16) is. 'full': the unmasked inputs (mask = 1), where the
 * trained network sits at its loss minimum (default, see README). 'initial':
 * the mask at the random starting weights W0.
 */
export type ReferenceReading = 'full' | 'initial';

/**
 * 'iid': every peer's Hessian an i.i.d. unit-trace Wishart matrix (the
 * paper's "random positive semi-definite Hessians"; default). 'graded': the
 * same draws, then peer j's representation scaled by a quality factor
 * q_j ∈ [½, 2] in every peer's Hessian (README, reading 12), so peers differ in
 * how much the others lose without them.
 */
export type WorldKind = 'iid' | 'graded';
export const WORLD_KINDS: readonly WorldKind[] = ['iid', 'graded'];

/** Quality factors of the graded world lie in [1/QUALITY_SPREAD, QUALITY_SPREAD]. */
export const QUALITY_SPREAD = 2;

export interface SimulationSettings {
  /** Mask temperature T of eq (8). */
  temperature: number;
  /** Reading of F_W0. */
  reference: ReferenceReading;
  /** Learning rate λ. */
  lambda: number;
  /** Convergence threshold ε on the stopping norm of the projected gradient. */
  epsilon: number;
  /** How "the gradient terms are bounded by ε" is measured (see `StoppingNorm`). */
  stoppingNorm: StoppingNorm;
  /** Step cap per peer: the solver stops after stepsPerPeer · n steps. */
  stepsPerPeer: number;
  /**
   * Degrees of freedom k of the Wishart Hessians, as a multiple of n
   * (H_i ∝ A Aᵀ with A n×(k·n)). 1 = square A. Larger values make H more
   * diagonally dominant.
   */
  hessianDofPerPeer: number;
  /** i.i.d. Hessians (the paper) or peers of graded quality. */
  world: WorldKind;
}

export const DEFAULT_SETTINGS: Readonly<SimulationSettings> = Object.freeze({
  temperature: 2,
  reference: 'full',
  lambda: NASH_LEARNING_RATE,
  epsilon: NASH_DEFAULT_EPSILON,
  stoppingNorm: 'entry',
  stepsPerPeer: NASH_STEPS_PER_PEER,
  hessianDofPerPeer: 1,
  world: 'iid',
});

/** A diagonal entry at least this close to 1 counts as "disconnected". */
export const IDENTITY_TOLERANCE = 1e-6;

/** The random world of one trial: Hessians, starting weights, stake. */
export interface TrialWorld {
  n: number;
  hessians: Float64Array;
  W0: Float64Array;
  stake: Float64Array;
  ideal: Float64Array;
  /** Diagnostic rank with off-diagonal curvature (see `coupledRank`). */
  coupled: Float64Array;
  /** Per-peer quality factors q_j (all 1 in the i.i.d. world). */
  quality: Float64Array;
}

/** Seed of trial t under a sweep seed, spread so neighbouring seeds do not overlap. */
export function trialSeed(seed: number, trial: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(trial + 1, 0x85ebca6b)) >>> 0;
}

/**
 * One trial's world. The graded world draws the same Hessians and W0 as the
 * i.i.d. world of the same seed, then a quality factor q_j = 2^(2u−1)
 * (log-uniform on [½, 2]) per peer as the scale of its representation f_j,
 * which the model folds into every H_i (README, reading 2):
 * H_i ← D H_i D with D = diag(q), renormalised to unit trace. Every peer then
 * loses q_j² times as much when j's input is removed (eq 2). D H D stays PSD.
 */
export function createWorld(
  n: number,
  seed: number,
  hessianDofPerPeer = 1,
  kind: WorldKind = 'iid',
): TrialWorld {
  const rng = createRng(seed);
  const hessians = randomPsdHessians(rng, n, Math.max(1, Math.round(hessianDofPerPeer * n)));
  const W0 = randomSimplexMatrix(rng, n);
  const quality = new Float64Array(n).fill(1);
  if (kind === 'graded') {
    for (let j = 0; j < n; j++) quality[j] = QUALITY_SPREAD ** (2 * rng.next() - 1);
    gradeHessians(hessians, quality, n);
  }
  // S = 1: the paper's Fig 4a has R = 1/n for everyone at W = I, which with
  // R_j = (1/n) Σ_i s_i w_ij needs s_j = 1.
  const stake = new Float64Array(n).fill(1);
  return {
    n,
    hessians,
    W0,
    stake,
    ideal: idealRank(hessians, n),
    coupled: coupledRank(hessians, n),
    quality,
  };
}

/** In place: H_i ← D H_i D / tr(D H_i D), D = diag(q), for every peer i. */
export function gradeHessians(hessians: Float64Array, quality: Float64Array, n: number): void {
  const nn = n * n;
  if (hessians.length !== n * nn) throw new RangeError(`hessians need n^3 = ${n * nn} entries`);
  if (quality.length !== n) throw new RangeError(`quality needs ${n} entries`);
  for (const q of quality)
    if (!(q > 0) || !Number.isFinite(q)) throw new RangeError(`quality must be > 0, got ${q}`);
  for (let i = 0; i < n; i++) {
    const base = i * nn;
    let trace = 0;
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) hessians[base + a * n + b]! *= quality[a]! * quality[b]!;
      trace += hessians[base + a * n + a]!;
    }
    const inv = 1 / trace;
    for (let t = base; t < base + nn; t++) hessians[t]! *= inv;
  }
}

export function referenceMask(world: TrialWorld, settings: SimulationSettings): Float64Array {
  const { n } = world;
  if (settings.reference === 'initial')
    return competitiveMask(world.W0, world.stake, n, settings.temperature);
  return new Float64Array(n * n).fill(1);
}

export function isIdentity(W: Float64Array, n: number, tolerance = IDENTITY_TOLERANCE): boolean {
  for (let i = 0; i < n; i++) if (W[i * n + i]! < 1 - tolerance) return false;
  return true;
}
