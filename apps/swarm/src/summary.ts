/**
 * The run's headline figures, computed from the per-step and per-block
 * records alone (so they can be recomputed from any swarm.json): B at the
 * start and end, failures, and per experiment the adversaries' standing, the
 * copier's earnings and the churn bump.
 */
import { spearman } from '@peerbench/mechanism';
import type { SwarmOptions } from './args.js';
import type { BlockRecord, ParticipantRecord, StepRecord, SwarmSummary } from './record.js';

export interface SummaryInput {
  opts: SwarmOptions;
  records: ParticipantRecord[];
  steps: StepRecord[];
  blocks: BlockRecord[];
  stepsDone: number;
  interrupted: boolean;
  wallMs: number;
  trainMs: number;
  rpcMs: number;
  servingMs: number;
}

/** The first block height from which `below` holds for every later block, else null. */
function holdsFrom(blocks: BlockRecord[], below: (b: BlockRecord) => boolean): number | null {
  let from: number | null = null;
  for (const b of blocks) {
    if (below(b)) from ??= b.height;
    else from = null;
  }
  return from;
}

/**
 * The per-row criterion for W and the gate: in every honest peer i's row,
 * each noise peer j gets nothing (M[i][j] = 0) or strictly less than the
 * weakest other honest peer in that row. Rows are sparse (scores from the
 * removal cost, clipped at 0), so an honest row often gives 0 to some honest
 * peers too; a noise weight of 0 then ties them and still counts as below,
 * while a positive noise weight must be strictly under every honest one.
 */
export function noiseBelowHonestInRows(M: number[][], honest: number[], noise: number[]): boolean {
  const { below, pairs } = noiseBelowHonestPairs(M, honest, noise);
  return below === pairs;
}

/** How many (honest row, noise peer) pairs meet that criterion, of how many. */
export function noiseBelowHonestPairs(
  M: number[][],
  honest: number[],
  noise: number[],
): { below: number; pairs: number } {
  let below = 0;
  let pairs = 0;
  for (const i of honest) {
    const others = honest.filter((j) => j !== i).map((j) => M[i]![j]!);
    const weakest = others.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...others);
    for (const j of noise) {
      const w = M[i]![j]!;
      pairs++;
      if (w === 0 || w < weakest) below++;
    }
  }
  return { below, pairs };
}

export function summarize(input: SummaryInput): SwarmSummary {
  const { records, steps, blocks } = input;
  const withB = steps.filter((s) => s.B !== undefined);
  const firstB = withB[0]?.B ?? null;
  const lastB = withB[withB.length - 1]?.B ?? null;
  /** Whether participant i was expected to report a training loss at `step`. */
  const trains = (i: number, step: number): boolean => {
    const r = records[i]!;
    if (r.kind === 'noise' || step === 0) return false;
    return r.stoppedAtStep === null || step < r.stoppedAtStep;
  };
  const s: SwarmSummary = {
    stepsDone: input.stepsDone,
    blocks: blocks.length,
    interrupted: input.interrupted,
    wallSeconds: input.wallMs / 1000,
    stepsPerSecond: input.trainMs > 0 ? (input.stepsDone / input.trainMs) * 1000 : 0,
    networkShare: input.trainMs > 0 ? input.rpcMs / input.trainMs : 0,
    servingShare: input.trainMs > 0 ? input.servingMs / input.trainMs : 0,
    firstB,
    lastB,
    bDrop: firstB !== null && lastB !== null && firstB > 0 ? (firstB - lastB) / firstB : null,
    standInAnswers: steps.reduce((c, st) => c + st.standIns, 0),
    failedSteps: steps.reduce((c, st) => c + st.failedSteps, 0),
    nonFiniteLosses: steps.reduce(
      (c, st) => c + st.trainLoss.filter((l, i) => l === null && trains(i, st.step)).length,
      0,
    ),
  };
  const idx = (k: ParticipantRecord['kind']) => records.filter((r) => r.kind === k).map((r) => r.index);
  const honest = idx('honest').filter((i) => records[i]!.stoppedAtStep === null);
  const noise = idx('noise');
  const last = blocks[blocks.length - 1];
  const first = blocks[0];
  if (noise.length > 0 && last && honest.length > 0) {
    const colBelow = (M: number[][]) => noiseBelowHonestInRows(M, honest, noise);
    const pairShare = (M: number[][]) => {
      const { below, pairs } = noiseBelowHonestPairs(M, honest, noise);
      return pairs > 0 ? below / pairs : null;
    };
    s.noise = {
      peers: noise,
      rankBelowHonestFromBlock: holdsFrom(
        blocks,
        (b) => Math.max(...noise.map((j) => b.R[j]!)) < Math.min(...honest.map((j) => b.R[j]!)),
      ),
      weightBelowHonestFromBlock: holdsFrom(blocks, (b) => colBelow(b.W)),
      gateBelowHonestFromBlock: holdsFrom(blocks, (b) => colBelow(b.gateWeight)),
      weightBelowHonestPairShareLast: pairShare(last.W),
      gateBelowHonestPairShareLast: pairShare(last.gateWeight),
      finalRankNoise: noise.map((j) => last.R[j]!),
      finalMinRankHonest: Math.min(...honest.map((j) => last.R[j]!)),
    };
  }
  const copy = idx('copy');
  if (copy.length > 0 && last && first) {
    // Gain from the first recorded block (all registered, equal stake) to the last.
    const gain = (j: number) => last.S[j]! - first.S[j]!;
    const honestMean = honest.reduce((a, j) => a + gain(j), 0) / Math.max(1, honest.length);
    const ratio = copy.reduce((a, j) => a + gain(j), 0) / copy.length / honestMean;
    s.copy = {
      peers: copy,
      stakeGain: copy.map(gain),
      honestMeanStakeGain: honestMean,
      ratio: Number.isFinite(ratio) ? ratio : 0,
    };
  }
  const views = records.map((r) => r.view ?? 0);
  if (input.opts.quality === 'views' && honest.length >= 3 && last) {
    const at = (b: BlockRecord): number | null => {
      const v = spearman(
        honest.map((j) => b.R[j]!),
        honest.map((j) => views[j]!),
      );
      return Number.isFinite(v) ? v : null;
    };
    const tail = blocks.slice(-3).map(at);
    const ok = tail.filter((v): v is number => v !== null);
    s.knownOrder = {
      views: honest.map((j) => views[j]!),
      spearmanLast: at(last),
      spearmanLast3: ok.length ? ok.reduce((a, v) => a + v, 0) / ok.length : null,
    };
  }
  const dealers = idx('selfdeal');
  if (dealers.length > 0 && last && first) {
    const gain = (j: number) => last.S[j]! - first.S[j]!;
    const twins = dealers.map((j) => records[j]!.twinOf ?? 0);
    s.selfDeal = {
      peers: dealers,
      twins,
      stakeGain: dealers.map(gain),
      twinStakeGain: twins.map(gain),
      honestMeanStakeGain: honest.reduce((a, j) => a + gain(j), 0) / Math.max(1, honest.length),
    };
  }
  if (last && honest.length > 0) {
    const shares = honest.map((j) => last.ownRowShare?.[j]).filter((v): v is number => typeof v === 'number');
    s.meanOwnRowShare = shares.length ? shares.reduce((a, v) => a + v, 0) / shares.length : null;
  }
  const churn = input.opts.churn;
  if (churn) {
    const survivors = records
      .filter((r) => r.kind !== 'noise' && r.stoppedAtStep === null)
      .map((r) => r.index);
    const stopped = records.filter((r) => r.stoppedAtStep !== null).map((r) => r.index);
    const meanAt = (st: StepRecord | undefined): number | null => {
      if (!st?.heldOutLoss) return null;
      const v = survivors
        .map((i) => st.heldOutLoss![i])
        .filter((x): x is number => x !== null && x !== undefined);
      return v.length ? v.reduce((a, x) => a + x, 0) / v.length : null;
    };
    const before = withB.filter((st) => st.step < churn.atStep).pop();
    const after = withB.find((st) => st.step >= churn.atStep);
    const lb = meanAt(before);
    const la = meanAt(after);
    s.churn = {
      atStep: churn.atStep,
      stopped,
      survivorLossBefore: lb,
      survivorLossAfter: la,
      bump: lb !== null && la !== null ? la - lb : null,
      stepsWithNonFiniteLoss: steps.filter(
        (st) => st.step >= churn.atStep && survivors.some((i) => st.trainLoss[i] === null),
      ).length,
    };
  }
  return s;
}
