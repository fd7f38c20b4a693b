/**
 * Weight submission (§1.3, eq 13): once per block the peer moves its row of
 * W on the ledger towards its target — the scorer's row, or
 * `PeerOptions.targetRow`'s — by at most ε (‖ΔW_i‖₂ ≤ ε), signs a
 * set-weights tx and submits it. `Peer.submitRow` sends one such step by
 * hand. Submissions are serialised; a block that comes while the previous
 * submission is still out is skipped. Each tx is counted (submitted or
 * failed) in the peer's stats and a refusal is published as an error.
 */
import { projectToSimplex } from '@peerbench/mechanism';
import { type ChainClient, type ChainState, denseRow } from './chain.js';
import type { TargetRowContext } from './peer-options.js';
import { peerError } from './peer-view.js';
import { nextWeightRow, sparseRow } from './scorer.js';
import type { PeerSnapshot, PeerStats } from './state.js';
import type { Trainer } from './trainer.js';

/** What a WeightSubmission needs of its Peer. */
export interface WeightSubmissionHost {
  readonly peerId: string;
  /** The ledger and the trainer while the peer runs (null before start / after stop). */
  chain(): ChainClient | null;
  trainer(): Trainer | null;
  /** Replaces the scorer's row once per block (PeerOptions.targetRow). */
  readonly targetRow?: ((ctx: TargetRowContext) => Float64Array) | undefined;
  /** Counts one tx in the peer's stats (weightTxsSubmitted / weightTxsFailed). */
  countTx(outcome: 'submitted' | 'failed'): void;
  /** The peer's stats as they are now. */
  stats(): PeerStats;
  publish(patch: Partial<PeerSnapshot>): void;
}

export class WeightSubmission {
  /** A per-block submission is out: the next block's is skipped. */
  private submitting = false;
  /** Serialises `submitRow` calls with the per-block submission. */
  private submission: Promise<void> = Promise.resolve();

  constructor(private readonly host: WeightSubmissionHost) {}

  /**
   * One bounded submission towards `target` (a row over all uids) against
   * the latest chain state, after any submission still out. Rejects when
   * there is no chain or no uid yet, on a bad target, or when the ledger
   * refuses the tx.
   */
  async submitRow(target: Float64Array): Promise<void> {
    const chain = this.host.chain();
    if (!this.host.trainer() || !chain) throw new Error('submitRow: the peer is not started or has no chain');
    const state = chain.state();
    const uid = chain.uidOf(this.host.peerId);
    if (!state || uid === null) throw new Error('submitRow: no chain state or uid yet (not registered)');
    const previous = this.submission;
    const run = previous.then(() => this.submitToward(state, uid, target));
    this.submission = run.catch(() => undefined);
    await run;
  }

  /**
   * Once per block: the scorer's target row (or `targetRow`'s), moved at
   * most ε from the ledger's row (§1.3), signed and sent. A block that comes
   * while the previous submission is still out is skipped. Never rejects.
   */
  async submitBlockRow(state: ChainState, uid: number): Promise<void> {
    const trainer = this.host.trainer();
    const chain = this.host.chain();
    if (!trainer || !chain || this.submitting) return;
    this.submitting = true;
    const run = this.submission.then(async () => {
      const slotUid = trainer.slots.map((p) => (p === null ? null : chain.uidOf(p)));
      const scored = trainer.scorer.targetRow(slotUid, uid, state.peerIds.length);
      let target = scored;
      if (this.host.targetRow) {
        try {
          target = this.host.targetRow({ state, uid, scored });
        } catch (err) {
          this.host.countTx('failed');
          this.host.publish({ error: peerError('target-row-failed', err), stats: this.host.stats() });
          return;
        }
      }
      await this.submitToward(state, uid, target);
    });
    this.submission = run.catch(() => undefined);
    try {
      await run;
    } catch {
      // counted and published by submitToward
    } finally {
      this.submitting = false;
    }
  }

  /** The bounded step from the ledger's row towards `target`, signed and sent; counted and published. */
  private async submitToward(state: ChainState, uid: number, target: Float64Array): Promise<void> {
    const chain = this.host.chain();
    try {
      if (!chain) throw new Error('no chain');
      const n = state.peerIds.length;
      if (target.length !== n)
        throw new RangeError(`target row has ${target.length} entries, the chain has ${n} uids`);
      if (!target.every((w) => Number.isFinite(w)))
        throw new RangeError('target row has a NaN or infinite entry');
      const next = nextWeightRow(denseRow(state, uid), projectToSimplex(target), uid, state.epsilon);
      await chain.submitWeights(sparseRow(next));
      this.host.countTx('submitted');
    } catch (err) {
      this.host.countTx('failed');
      this.host.publish({ error: peerError('weights-rejected', err) });
      throw err;
    } finally {
      this.host.publish({ stats: this.host.stats() });
    }
  }
}
