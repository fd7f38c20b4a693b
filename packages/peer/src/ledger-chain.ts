/**
 * ChainClient over packages/ledger's `Chain` (LocalChain in process,
 * RemoteChain through the signaling server, or any external chain). It
 * converts the ledger's fixed-point rows to fractions and back, signs
 * register and set-weights txs with the peer's identity, and keeps nonces
 * increasing even while earlier txs are still in the mempool.
 */

import {
  boundedRowToward,
  type Chain,
  createRegisterTx,
  createSetWeightsTx,
  type LedgerStateView,
  rowFromPairs,
  solveRegistrationWork,
} from '@peerbench/ledger';
import { CodedError, type Identity, type LedgerSubmitErrorCode } from '@peerbench/protocol';
import type { ChainClient, ChainState } from './chain.js';

/** A tx the chain refused (its submit code), or set-weights before this peer has a uid. */
export type ChainErrorCode = LedgerSubmitErrorCode | 'not-registered';

export class ChainError extends CodedError<ChainErrorCode> {
  override readonly name = 'ChainError';
}

export function chainStateFromLedger(view: LedgerStateView): ChainState {
  const scale = view.weightScale;
  return {
    height: view.height,
    epsilon: view.stepBoundL2,
    tau: view.tau,
    peerIds: view.peers.slice(),
    stakes: view.stake.slice(),
    ranks: view.rank.slice(),
    weights: view.weights.map((row) => row.map(([j, w]) => [j, w / scale] as [number, number])),
    activeRows: view.activeRows.slice(),
    selfWeightsInRank: view.selfWeightsInRank,
  };
}

export class LedgerChainClient implements ChainClient {
  private lastNonce = 0;
  private work: { bits: number; nonce: number } | null = null;
  private cached: { view: LedgerStateView; state: ChainState } | null = null;

  constructor(
    private readonly chain: Chain,
    private readonly identity: Identity,
  ) {}

  private view(): LedgerStateView {
    return this.chain.state();
  }

  state(): ChainState | null {
    const view = this.view();
    if (this.cached?.view !== view) this.cached = { view, state: chainStateFromLedger(view) };
    return this.cached.state;
  }

  onHead(cb: (state: ChainState) => void): () => void {
    return this.chain.subscribeHeads((_head, view) => {
      this.cached = { view, state: chainStateFromLedger(view) };
      cb(this.cached.state);
    });
  }

  uidOf(peerId: string): number | null {
    const i = this.view().peers.indexOf(peerId);
    return i < 0 ? null : i;
  }

  async ensureRegistered(): Promise<void> {
    if (this.uidOf(this.identity.peerId) !== null) return;
    const view = this.view();
    // The chain's sybil cost: proof of work bound to this key and chain
    // (2^bits hashes on average, solved once and kept for retries).
    const bits = view.registrationWorkBits ?? 0;
    if (bits > 0 && this.work?.bits !== bits)
      this.work = {
        bits,
        nonce: await solveRegistrationWork(view.genesisHash, this.identity.publicKey, bits),
      };
    // Signed for this chain's genesis hash, so it cannot be replayed on another chain.
    const result = await this.chain.submitTx(
      await createRegisterTx(this.identity, view.genesisHash, bits > 0 ? this.work?.nonce : undefined),
    );
    // A register tx already waiting in the mempool (or already applied) is as good as ours.
    if (!result.ok && result.code !== 'duplicate-key')
      throw new ChainError(result.code, `register: ${result.message}`);
  }

  async submitWeights(row: Array<[number, number]>): Promise<void> {
    const view = this.view();
    const uid = view.peers.indexOf(this.identity.peerId);
    if (uid < 0) throw new ChainError('not-registered', 'this peer has no uid yet');
    const current = rowFromPairs(view.weights[uid] ?? []);
    // The row is already within ε as floats; the ledger re-checks after
    // fixed-point rounding, and boundedRowToward keeps it inside exactly.
    const pairs = boundedRowToward(current, row, view.stepBoundL2);
    const nonce = Math.max(this.lastNonce, view.nonces[uid] ?? 0) + 1;
    const tx = await createSetWeightsTx(this.identity, uid, nonce, pairs, view.genesisHash);
    const result = await this.chain.submitTx(tx);
    if (!result.ok) throw new ChainError(result.code, `set-weights: ${result.message}`);
    this.lastNonce = nonce;
  }
}
