/**
 * The responder's side of §1.5 (eq 7-8): peer j scales what it sends to
 * caller i by M_ij = σ((s_i·w_ij − μ_j)/T), μ_j = (1/n) Σ_k s_k·w_kj, from the
 * latest block. The math is packages/mechanism's (columnShift, maskValue);
 * this file only turns a block's sparse state into the dense inputs it takes.
 */
import { columnShift, maskValue } from '@peerbench/mechanism';
import type { ChainState } from './chain.js';

/**
 * Masks this peer (uid `self`) applies to every caller uid, from one chain
 * state. Callers without a uid hold no stake: they get σ(−μ_j/T).
 *
 * T is relative to the mean stake (the T of eq 8 is `temperature × mean(S)`).
 * Inflation (eq 6) grows every stake by about (1 + τ) per block, so with a
 * fixed absolute T the same weights give an ever sharper mask: after 50
 * blocks at τ = 0.1 stakes are ~100× larger and σ((s_i w_ij − μ_j)/T)
 * saturates to 0 for every caller weighting j below the column mean, which
 * cut the swarm's knowledge sharing to nothing (measured in apps/swarm). The
 * paper's empirical model holds S fixed, where the two readings agree.
 */
export class MaskTable {
  private readonly byUid: Float64Array;
  private readonly unknown: number;

  constructor(state: ChainState, selfUid: number | null, temperature: number) {
    const n = state.stakes.length;
    this.byUid = new Float64Array(n);
    if (selfUid === null || selfUid >= n || n === 0) {
      // We are not on the ledger yet: nobody can have weighted us, serve plainly.
      this.byUid.fill(1);
      this.unknown = 1;
      return;
    }
    const W = new Float64Array(n * n);
    // Only rows that count on the ledger enter μ_j (a never-set all-self row is not a weighting).
    for (let i = 0; i < n; i++) {
      if (state.activeRows && state.activeRows[i] === false) continue;
      for (const [j, w] of state.weights[i] ?? []) if (j < n) W[i * n + j] = w;
    }
    const S = Float64Array.from(state.stakes);
    let meanStake = 0;
    for (let i = 0; i < n; i++) meanStake += S[i]!;
    meanStake /= n;
    if (!(meanStake > 0) || !Number.isFinite(meanStake)) meanStake = 1;
    temperature *= meanStake;
    const mu = columnShift(W, S, n)[selfUid]!;
    for (let i = 0; i < n; i++) this.byUid[i] = maskValue(S[i]! * W[i * n + selfUid]!, mu, temperature);
    this.unknown = maskValue(0, mu, temperature);
  }

  /** M_ij for caller uid i (null = not registered). */
  forCaller(uid: number | null): number {
    if (uid === null) return this.unknown;
    return this.byUid[uid] ?? this.unknown;
  }
}
