/**
 * What the peer needs from the ledger (§1.3-1.4): its uid, the latest block's
 * stake/rank/W, ε, and a way to submit its signed weight row. Adapters:
 * `LocalChain` (in process, for tests and swarm experiments) and
 * `LedgerChainClient` (packages/ledger's Chain).
 */

/** The state of the network as of one block. Index = uid. */
export interface ChainState {
  height: number;
  /** Max L2 change of a row per block (‖ΔW_i‖₂ ≤ ε, §1.3). */
  epsilon: number;
  tau: number;
  /** peerId per uid. */
  peerIds: string[];
  stakes: number[];
  ranks: number[];
  /** Sparse W: weights[i] lists (j, w_ij). */
  weights: Array<Array<[number, number]>>;
  /**
   * Rows that count on the ledger at this height (the activity cutoff: a uid
   * that never set weights, or not recently, has its row ignored in R).
   * Absent: every row counts. `weights` still holds every stored row, since
   * the ε bound of a uid's next row is measured from it.
   */
  activeRows?: boolean[];
  /** Whether a row's self-weight w_ii counts in R (absent: it does, the paper's eq 5). */
  selfWeightsInRank?: boolean;
}

export interface ChainClient {
  /** Latest state, or null before the first block is known. */
  state(): ChainState | null;
  /** Called with every new head (after `state()` reflects it); returns an unsubscribe function. */
  onHead(cb: (state: ChainState) => void): () => void;
  /** uid of a peer in the latest state, or null when it is not registered. */
  uidOf(peerId: string): number | null;
  /** Registers this peer if it is not registered yet. */
  ensureRegistered(): Promise<void>;
  /**
   * Signs and submits this peer's new row of W (sparse (uid, weight) pairs on
   * the simplex, change already clipped to ε). Resolves when the tx was
   * accepted into the pool, not when it lands in a block.
   */
  submitWeights(row: Array<[number, number]>): Promise<void>;
}

/** Dense row of W for uid `i` from a state (length = number of uids). */
export function denseRow(state: ChainState, i: number): Float64Array {
  const row = new Float64Array(state.peerIds.length);
  for (const [j, w] of state.weights[i] ?? []) if (j < row.length) row[j] = w;
  return row;
}
