/**
 * The schema of DIR/swarm.json. Losses that were not measured (a stopped
 * peer, a noise peer that has no task) are null, never NaN, so the file is
 * valid JSON and readers need no special cases.
 */

import type { BackendReport } from '@peerbench/peer';
import type { SwarmOptions } from './args.js';
import type { NewcomerReport } from './newcomers.js';

/** Record version 2: produced by the real Peer runtime (v1 came from this package's own trainer, removed). */
export const RECORD_VERSION = 2;

/** honest: a Peer that trains and scores; noise: an endpoint answering noise; copy: a Peer submitting the consensus row; selfdeal: a Peer putting all the self-weight ε allows on itself. */
export type ParticipantKind = 'honest' | 'noise' | 'copy' | 'selfdeal';

export interface ParticipantRecord {
  index: number;
  kind: ParticipantKind;
  /** Training examples (0 for a noise peer). */
  shardSize: number;
  /** The two digits that make up most of its shard (null for a noise peer). */
  dominantDigits: [number, number] | null;
  /** Step at which churn stopped it, else null. */
  stoppedAtStep: number | null;
  /** Share of the pixels its encoder sees (1: all; --quality views grades it); null for a noise peer. */
  view: number | null;
  /** A self-dealer: the honest peer whose shard, seeds and view it copies; else null. */
  twinOf: number | null;
}

export interface StepRecord {
  step: number;
  /** Training-batch cross-entropy per participant (null: not training). */
  trainLoss: (number | null)[];
  /** Held-out loss per participant, on evaluation steps only. */
  heldOutLoss?: (number | null)[];
  heldOutAccuracy?: (number | null)[];
  /** The same peers' held-out accuracy with the network cut off (the student of G answers for it), beside the live one. */
  heldOutOfflineAccuracy?: (number | null)[];
  /** B = Σ L_i on held-out data over the honest (incl. copier) peers still running; evaluation steps only. */
  B?: number;
  /** Expert contributions served by a stand-in during this step, summed over peers. */
  standIns: number;
  /** Training steps that threw (should stay 0, also under churn). */
  failedSteps: number;
  /** Wall time of the whole swarm step. */
  ms: number;
  /** CPU time of this process (user + system) during the swarm step, in ms (absent in older records). */
  cpuMs?: number;
}

export interface BlockRecord {
  height: number;
  step: number;
  S: number[];
  R: number[];
  /** Row-major n×n as nested rows. */
  W: number[][];
  tau: number;
  /** Gate importance share (the scorer's EMA) of peer i's gate over every participant (zeros: no gate). */
  gateWeight: number[][];
  /**
   * Per participant j: the share of R_j that comes from its own row,
   * s_j w_jj / Σ_i s_i w_ij (0 when the ledger leaves w_ii out of R; null
   * when R_j has nothing).
   */
  ownRowShare: (number | null)[];
}

export interface AblationRecord {
  /** Mean loss of each peer on its own held-out draws with nothing removed (null: not evaluated). */
  baseLoss: (number | null)[];
  /** delta[i][j]: mean rise of L_i over the draws when f_j is zeroed in peer i's G(x) (masks held at one value, `masks`). */
  delta: (number | null)[][];
  /** Standard error of each delta over the draws (null: one draw). */
  deltaSe: (number | null)[][];
  /** Held-out draws of each peer's own data, and examples per draw. */
  draws: number;
  drawSize: number;
  /** How the competitive masks were set while measuring (independent of W). */
  masks: `held at ${number}`;
  /** Ideal rank of eq 2 by ablation: (1/n) Σ_i delta[i][j]. */
  ideal: number[];
  /** Same, counting only the other peers' losses (i ≠ j). */
  idealOthers: number[];
  /** R of the last block. */
  ledgerR: number[];
  /** Spearman(ledger R, ideal) over every participant still running (null: undefined, e.g. flat R). */
  spearman: number | null;
  spearmanOthers: number | null;
  /** Over the honest peers only (adversaries removed). */
  spearmanHonest: number | null;
  /** Per evaluator i: Spearman(W[i][j], delta[i][j]) over j ≠ i. */
  rowSpearman: (number | null)[];
  meanRowSpearman: number | null;
  /** Spearman(W[i][j], delta[i][j]) pooled over every pair i ≠ j. */
  pairSpearman: number | null;
  pairs: number;
}

export interface SwarmSummary {
  stepsDone: number;
  blocks: number;
  interrupted: boolean;
  wallSeconds: number;
  stepsPerSecond: number;
  /** Share of training-step time with a forward call outstanding (RPC incl. the responder's compute); the rest is local compute. */
  networkShare: number;
  /** Share of training-step time spent inside serving handlers (other peers answering or applying gradients). */
  servingShare: number;
  firstB: number | null;
  lastB: number | null;
  /** (firstB − lastB) / firstB. */
  bDrop: number | null;
  standInAnswers: number;
  failedSteps: number;
  nonFiniteLosses: number;
  /** Adversaries: the first block from which every noise peer stays below every honest peer, per measure. */
  noise?: {
    peers: number[];
    rankBelowHonestFromBlock: number | null;
    weightBelowHonestFromBlock: number | null;
    gateBelowHonestFromBlock: number | null;
    /** At the last block: the share of (honest row, noise peer) pairs where noise gets 0 or less than the weakest other honest peer. */
    weightBelowHonestPairShareLast: number | null;
    gateBelowHonestPairShareLast: number | null;
    finalRankNoise: number[];
    finalMinRankHonest: number;
  };
  /** The weight copier: stake earned over the run vs the honest peers. */
  copy?: {
    peers: number[];
    stakeGain: number[];
    honestMeanStakeGain: number;
    /** copier gain / honest mean gain. */
    ratio: number;
  };
  /** --quality views: Spearman(R, view) over the honest peers at every block, and at the last. */
  knownOrder?: {
    views: number[];
    spearmanLast: number | null;
    /** Mean over the last three blocks (less noisy than one block). */
    spearmanLast3: number | null;
  };
  /** The self-dealers against their honest twins: stake gained from the first to the last block. */
  selfDeal?: {
    peers: number[];
    twins: number[];
    stakeGain: number[];
    twinStakeGain: number[];
    honestMeanStakeGain: number;
  };
  /** Mean over honest peers of the own-row share of R at the last block. */
  meanOwnRowShare?: number | null;
  churn?: {
    atStep: number;
    stopped: number[];
    /** Mean held-out loss of survivors at the last evaluation before and the first after. */
    survivorLossBefore: number | null;
    survivorLossAfter: number | null;
    bump: number | null;
    stepsWithNonFiniteLoss: number;
  };
}

export interface SwarmRecord {
  version: typeof RECORD_VERSION;
  createdAt: string;
  options: Omit<SwarmOptions, 'out'>;
  transport: string;
  chain: string;
  participants: ParticipantRecord[];
  steps: StepRecord[];
  blocks: BlockRecord[];
  ablation: AblationRecord | null;
  summary: SwarmSummary;
  /** The tfjs backend the process used and the start-up trial that chose it (absent in older records). */
  backend?: BackendReport;
  /** --newcomers: each newcomer's slots and rank by block, and issue 14's targets (absent otherwise). */
  newcomers?: NewcomerReport;
}
