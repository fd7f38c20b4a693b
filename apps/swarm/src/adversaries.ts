/**
 * The adversaries of issue 7, by composition with the real parts:
 *  - noise: an endpoint on the swarm's network serving packages/peer's
 *    `noiseHandlers` (uniform noise in [-1, 1], gradients ignored; shared with
 *    apps/web's test-only `?adversary=noise`), registered on the ledger with
 *    its own signed tx, never scoring (never setting weights);
 *  - copy: a real Peer that trains like any other but, once per block,
 *    submits (within ε, through PeerOptions.targetRow) the stake-weighted mean
 *    of the other rows on chain instead of its own scorer's row: the
 *    weight-copying attack of Bittensor.
 */

import { projectToSimplex } from '@peerbench/mechanism';
import { type ChainState, denseRow } from '@peerbench/peer';

/**
 * The copier's target: Σ_i S_i W_i / Σ_i S_i over the other uids whose row
 * has been set (a row still all on its owner is a uid that never scored; the
 * ledger does not count it either, and copying it would copy nothing).
 */
export function consensusRow(state: ChainState, self: number): Float64Array {
  const n = state.peerIds.length;
  const out = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (i === self) continue;
    const row = denseRow(state, i);
    if (row[i]! >= 1 - 1e-9) continue;
    const s = state.stakes[i] ?? 0;
    total += s;
    for (let j = 0; j < n; j++) out[j]! += s * row[j]!;
  }
  if (!(total > 0)) {
    out.fill(0);
    out[self] = 1;
    return out;
  }
  for (let j = 0; j < n; j++) out[j] = out[j]! / total;
  return projectToSimplex(out);
}

/**
 * The self-dealer's target: all weight on itself. The peer moves towards it
 * as far as ε allows every block, so its row holds the largest self-weight
 * the ledger accepts (the threat of §1.3 and §2).
 */
export function selfDealRow(state: ChainState, self: number): Float64Array {
  const out = new Float64Array(state.peerIds.length);
  out[self] = 1;
  return out;
}
