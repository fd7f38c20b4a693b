/**
 * The ideal rank of eq 2, measured by ablation after training, independent
 * of W:
 *
 *   Δ[i][j] = L_i(without f_j) − L_i,   ideal_j = (1/n) Σ_i Δ[i][j]
 *
 * - on each peer's OWN data (eq 2 sums L_i over D_i): fresh held-out draws
 *   with peer i's class mix (`heldOutDraw`, digits no shard or validation
 *   slice contains), averaged over `--ablation-draws` draws;
 * - with every competitive mask held at one value, `--ablation-mask`
 *   (`Peer.holdMasks`): the masks are computed from W, so an ideal measured
 *   through them would partly restate what it is meant to judge. The value is
 *   0.5 by default, near the masks the callers trained with; at 1 the ideal
 *   measured a network that never ran (DEFAULT_ABLATION_MASK in args.ts);
 * - f_j zeroed in G(x) with i's gate unchanged (Peer.evaluateLive's
 *   `ablate`), live answers from every other expert, no gate noise.
 *
 * Kept per pair, so the fidelity of each row (W[i][j] against Δ[i][j] over
 * the n(n−1) pairs i ≠ j) is reported beside the fidelity of R.
 */
import { spearman } from '@peerbench/mechanism';
import { heldOutDraw, type MnistDigits } from '@peerbench/peer';
import type { SwarmOptions } from './args.js';
import { classMixOf } from './data.js';
import type { Participant } from './participants.js';
import type { AblationRecord, BlockRecord, ParticipantRecord } from './record.js';

/** Examples per held-out draw of a peer's own data. */
export const ABLATION_DRAW_SIZE = 200;

const finiteOrNull = (v: number | null | undefined): number | null =>
  v !== null && v !== undefined && Number.isFinite(v) ? v : null;

/** Spearman over the given indices, null when undefined (e.g. a constant vector). */
function corr(a: ArrayLike<number>, b: ArrayLike<number>, idx: number[]): number | null {
  if (idx.length < 3) return null;
  return finiteOrNull(
    spearman(
      idx.map((i) => a[i]!),
      idx.map((i) => b[i]!),
    ),
  );
}

export interface AblationInput {
  opts: SwarmOptions;
  digits: MnistDigits;
  participants: Participant[];
  records: ParticipantRecord[];
  /** Participants still running (not stopped by churn). */
  alive: number[];
  /** The last block (its R and W are judged); undefined: none was produced. */
  last: BlockRecord | undefined;
}

export async function measureIdeal(input: AblationInput): Promise<AblationRecord> {
  const { opts, participants, records, alive, last } = input;
  const n = participants.length;
  const evaluators = alive.filter((i) => participants[i]!.peer !== null);
  for (const i of alive) participants[i]!.peer?.holdMasks(opts.ablationMask);
  const sum: number[][] = participants.map(() => new Array<number>(n).fill(0));
  const sumSq: number[][] = participants.map(() => new Array<number>(n).fill(0));
  const count: number[][] = participants.map(() => new Array<number>(n).fill(0));
  const baseLoss: (number | null)[] = participants.map(() => null);
  try {
    for (const i of evaluators) {
      const peer = participants[i]!.peer!;
      const dataIndex = records[i]!.twinOf ?? i;
      let baseSum = 0;
      for (let r = 0; r < opts.ablationDraws; r++) {
        const data = heldOutDraw(
          input.digits,
          classMixOf(dataIndex, opts.skew),
          ABLATION_DRAW_SIZE,
          opts.seed * 10_007 + i * 101 + r,
        );
        const base = (await peer.evaluateLive({ data })).loss;
        baseSum += base;
        for (const j of alive) {
          const l = (await peer.evaluateLive({ data, ablate: participants[j]!.identity.peerId })).loss;
          const d = l - base;
          if (!Number.isFinite(d)) continue;
          sum[i]![j]! += d;
          sumSq[i]![j]! += d * d;
          count[i]![j]!++;
        }
      }
      baseLoss[i] = finiteOrNull(baseSum / opts.ablationDraws);
    }
  } finally {
    for (const i of alive) participants[i]!.peer?.holdMasks(null);
  }
  const delta = participants.map((_, i) =>
    participants.map((_, j) => (count[i]![j]! > 0 ? sum[i]![j]! / count[i]![j]! : null)),
  );
  // Standard error of each pair's mean over the draws (null with a single draw).
  const deltaSe = participants.map((_, i) =>
    participants.map((_, j) => {
      const c = count[i]![j]!;
      if (c < 2) return null;
      const m = sum[i]![j]! / c;
      return Math.sqrt(Math.max(0, sumSq[i]![j]! / c - m * m) / (c - 1));
    }),
  );
  const ideal = new Array<number>(n).fill(0);
  const idealOthers = new Array<number>(n).fill(0);
  for (let j = 0; j < n; j++)
    for (const i of evaluators) {
      const d = delta[i]![j] ?? 0;
      ideal[j]! += d / n;
      if (i !== j) idealOthers[j]! += d / n;
    }
  const R = last ? last.R.slice() : new Array<number>(n).fill(0);
  const honest = alive.filter((i) => records[i]!.kind === 'honest');
  // Per-row fidelity: W[i][j] against Δ[i][j] over the pairs i ≠ j (pooled, and the mean of each row's).
  const wPairs: number[] = [];
  const dPairs: number[] = [];
  const rowSpearman: (number | null)[] = participants.map(() => null);
  for (const i of evaluators) {
    const others = alive.filter((j) => j !== i && delta[i]![j] !== null);
    const w = others.map((j) => last?.W[i]?.[j] ?? 0);
    const d = others.map((j) => delta[i]![j]!);
    wPairs.push(...w);
    dPairs.push(...d);
    rowSpearman[i] = corr(
      w,
      d,
      others.map((_, q) => q),
    );
  }
  const rows = rowSpearman.filter((v): v is number => v !== null);
  return {
    baseLoss,
    delta,
    deltaSe,
    draws: opts.ablationDraws,
    drawSize: ABLATION_DRAW_SIZE,
    masks: `held at ${opts.ablationMask}`,
    ideal,
    idealOthers,
    ledgerR: R,
    spearman: corr(R, ideal, alive),
    spearmanOthers: corr(R, idealOthers, alive),
    spearmanHonest: corr(R, ideal, honest),
    rowSpearman,
    meanRowSpearman: rows.length ? rows.reduce((a, v) => a + v, 0) / rows.length : null,
    pairSpearman: corr(
      wPairs,
      dPairs,
      wPairs.map((_, q) => q),
    ),
    pairs: wPairs.length,
  };
}
