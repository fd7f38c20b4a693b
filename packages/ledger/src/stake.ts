/**
 * Section 1.4 on sparse rows: R_j = (1/n) Σ_i s_i w_ij, then
 * S ← S + τ R/‖R‖₂ (mechanism's `inflate`, which is O(n) already).
 *
 * The sparse sum performs exactly the floating-point operations of
 * mechanism's dense `rank` minus additions of zero (x + 0 = x exactly), in the
 * same order (rows i ascending, columns ascending within a row), so both give
 * bit-identical R; test/stake.test.ts checks this. Only +, ×, ÷ and sqrt are
 * used, which IEEE-754 fixes bit for bit on every engine.
 */
import { AdaptiveTauController, inflate } from '@peerbench/mechanism';
import type { TauSchedule } from './genesis.js';
import { type SparseRow, WEIGHT_SCALE } from './weights.js';

export function sparseRank(
  rows: readonly SparseRow[],
  stake: Float64Array,
  out?: Float64Array,
  selfWeights = true,
): Float64Array {
  const n = rows.length;
  const R = out ?? new Float64Array(n);
  R.fill(0, 0, n);
  if (n === 0) return R;
  for (let i = 0; i < n; i++) {
    const s = stake[i]!;
    const row = rows[i]!;
    const { uids, weights } = row;
    for (let k = 0; k < uids.length; k++) {
      if (!selfWeights && uids[k] === i) continue;
      R[uids[k]!]! += s * (weights[k]! / WEIGHT_SCALE);
    }
  }
  const inv = 1 / n;
  for (let j = 0; j < n; j++) R[j]! *= inv;
  return R;
}

/** Eq (6), delegated to mechanism (it returns S unchanged when R = 0 instead of NaN). */
export function inflateStake(stake: Float64Array, rank: Float64Array, tau: number): Float64Array {
  return inflate(stake, rank, tau);
}

/**
 * Eq (17): Σ diag(W) / Σ W. Weights are integers and every row sums to
 * WEIGHT_SCALE, so both sums are exact integers (< 2^53) and one division
 * gives the result.
 */
export function sparseSparsity(rows: readonly SparseRow[]): number {
  let diag = 0;
  let total = 0;
  for (let i = 0; i < rows.length; i++) {
    const { uids, weights } = rows[i]!;
    for (let k = 0; k < uids.length; k++) {
      total += weights[k]!;
      if (uids[k] === i) diag += weights[k]!;
    }
  }
  return total === 0 ? 0 : diag / total;
}

/** τ for the next block. Adaptive mode uses mechanism's Fig 5 controller (only +, −, ×, min, max). */
export function nextTau(schedule: TauSchedule, tau: number, sparsity: number): number {
  if (schedule.mode === 'fixed') return schedule.value;
  const controller = new AdaptiveTauController({
    target: schedule.target,
    gain: schedule.gain,
    initialTau: tau,
    minTau: schedule.min,
    maxTau: schedule.max,
  });
  return controller.update(sparsity);
}

export function initialTau(schedule: TauSchedule): number {
  return schedule.mode === 'fixed'
    ? schedule.value
    : Math.min(schedule.max, Math.max(schedule.min, schedule.initial));
}
