/**
 * What a training soak (training-soak.ts) found, from its records alone
 * (pure, so the checks are the same in the script and in CI): failed steps,
 * NaN losses, where stand-ins answered relative to the outage, when each
 * link carried answers again, whether tensors leaked, and whether the chain
 * holds every peer's weight row. The issue's targets become `violations`.
 */
import type { LinkInfo } from '@peerbench/mesh';
import type { PeerStats } from '@peerbench/peer';
import type { StepRecord } from './train-agent-protocol.js';

/** issue 18: the link is back within 15 s after the outage ends. */
export const LINK_BACK_WITHIN_MS = 15_000;
/** Share of each peer's steps (from its first) before the tensor count is taken as the reference. */
export const TENSOR_WARMUP_SHARE = 0.1;

export interface SoakPeerResult {
  peerId: string;
  /** The home (1-based) this peer ran in. */
  home: number;
  uid: number | null;
  steps: StepRecord[];
  links: Array<{ info: LinkInfo; atMs: number }>;
  /** Its signaling connection's states (epoch ms). */
  signaling?: Array<{ state: string; atMs: number }>;
  stats: PeerStats | null;
}

export interface SoakChainRow {
  peerId: string;
  uid: number | null;
  /** Height of the block that applied its last set-weights tx (0 = never). */
  lastSetHeight: number;
  /** Entries of its row other than its own uid. */
  othersInRow: number;
}

export interface TrainingSoakResult {
  /** Epoch ms: the training loops were told to start / to stop. */
  runStartMs: number;
  runEndMs: number;
  /** The one host cut off, and when (epoch ms); null when the run had no outage. */
  outage: { home: number; peerId: string; startMs: number; endMs: number } | null;
  peers: SoakPeerResult[];
  chain: { height: number; rows: SoakChainRow[] };
}

export interface TensorTrace {
  reference: number;
  last: number;
  min: number;
  max: number;
  /** Largest count after the reference step minus the reference (≤ 0: no leak). */
  growth: number;
}

export interface SoakFindings {
  stepsByPeer: number[];
  failedSteps: number;
  nanLosses: number;
  /** Stand-in contributions inside the allowed window (caller stood in for the cut peer, or the cut peer for others). */
  standInsDuring: number;
  /** Stand-in contributions anywhere else for a peer that failed or was unreachable: each one a violation. */
  standInsOutside: Array<{ caller: string; callee: string; step: number; atS: number }>;
  /**
   * Stand-ins outside the outage in a step whose forwards were only late (no
   * call failed): the callee answered after k_min + grace, which a loaded
   * machine causes on any link. The step rule works as designed; not a
   * network fault, so reported but not a violation.
   */
  standInsLate: Array<{ caller: string; callee: string; step: number; atS: number }>;
  /** Per (caller, callee) pair involving the cut peer: ms from the outage's end to the first step's end that used callee's answer (null: never). */
  linkBack: Array<{ caller: string; callee: string; ms: number | null }>;
  /** The slowest pair, null when one never came back. */
  linkBackMs: number | null;
  /** Per peer other than the cut one: ms from the outage's end to its mesh reporting the link to the cut peer connected again (null: not re-made, or it never dropped). */
  meshRelinkMs: Array<{ peerId: string; ms: number | null; dropped: boolean }>;
  tensors: TensorTrace[];
  /** Peers whose row on the chain was never set, or weighs no other peer. */
  chainRowsMissing: string[];
  violations: string[];
}

function tensorTrace(steps: readonly StepRecord[]): TensorTrace {
  const counts = steps.map((s) => s.numTensors).filter((n) => n >= 0);
  if (counts.length === 0) return { reference: 0, last: 0, min: 0, max: 0, growth: 0 };
  const refIndex = Math.min(counts.length - 1, Math.floor(counts.length * TENSOR_WARMUP_SHARE));
  const reference = counts[refIndex]!;
  const after = counts.slice(refIndex);
  return {
    reference,
    last: counts.at(-1)!,
    min: Math.min(...counts),
    max: Math.max(...counts),
    growth: Math.max(...after) - reference,
  };
}

/** End of the first step that started after `fromMs` and used callee's own answer, or null. */
function firstAnswerAfter(steps: readonly StepRecord[], callee: string, fromMs: number): number | null {
  for (const s of steps) if (s.startMs >= fromMs && s.remote.includes(callee)) return s.endMs;
  return null;
}

type Outage = NonNullable<TrainingSoakResult['outage']>;

/**
 * When each pair involving the cut peer carried answers again after the
 * outage (backAt: caller>callee → end of that step), and when the mesh
 * re-made its links to the cut peer.
 */
function linkBack(r: TrainingSoakResult, outage: Outage, f: SoakFindings): Map<string, number | null> {
  const cut = outage.peerId;
  const backAt = new Map<string, number | null>();
  for (const caller of r.peers) {
    const callees =
      caller.peerId === cut
        ? r.peers.filter((p) => p.peerId !== cut)
        : r.peers.filter((p) => p.peerId === cut);
    for (const callee of callees) {
      const at = firstAnswerAfter(caller.steps, callee.peerId, outage.endMs);
      backAt.set(`${caller.peerId}>${callee.peerId}`, at);
      f.linkBack.push({
        caller: caller.peerId,
        callee: callee.peerId,
        ms: at === null ? null : at - outage.endMs,
      });
    }
  }
  const backs = f.linkBack.map((b) => b.ms);
  f.linkBackMs = backs.some((ms) => ms === null) ? null : Math.max(0, ...(backs as number[]));
  for (const p of r.peers) {
    if (p.peerId === cut) continue;
    const toCut = p.links.filter((l) => l.info.peerId === cut);
    const dropped = toCut.some((l) => l.atMs >= outage.startMs && l.info.state !== 'connected');
    const back = toCut.find((l) => l.atMs >= outage.endMs && l.info.state === 'connected');
    f.meshRelinkMs.push({ peerId: p.peerId, dropped, ms: dropped && back ? back.atMs - outage.endMs : null });
  }
  return backAt;
}

/** Judges a run against the issue's targets; without an outage every stand-in answer is a violation. */
export function evaluateSoak(r: TrainingSoakResult): SoakFindings {
  const all = r.peers.flatMap((p) => p.steps);
  const findings: SoakFindings = {
    stepsByPeer: r.peers.map((p) => p.steps.length),
    failedSteps: all.filter((s) => s.error !== undefined).length,
    nanLosses: all.filter((s) => s.error === undefined && !Number.isFinite(s.loss)).length,
    standInsDuring: 0,
    standInsOutside: [],
    standInsLate: [],
    linkBack: [],
    linkBackMs: null,
    meshRelinkMs: [],
    tensors: r.peers.map((p) => tensorTrace(p.steps)),
    chainRowsMissing: r.chain.rows
      .filter((row) => row.lastSetHeight <= 0 || row.othersInRow === 0)
      .map((row) => row.peerId),
    violations: [],
  };
  const backAt = r.outage ? linkBack(r, r.outage, findings) : new Map<string, number | null>();
  // Stand-ins: allowed for a pair involving the cut peer in steps overlapping [outage start, that pair's link back].
  for (const caller of r.peers) {
    for (const s of caller.steps) {
      for (const callee of s.standIns) {
        const until = backAt.get(`${caller.peerId}>${callee}`);
        const allowed =
          r.outage !== null &&
          until !== undefined &&
          s.endMs >= r.outage.startMs &&
          s.startMs < (until ?? Number.POSITIVE_INFINITY);
        const at = { caller: caller.peerId, callee, step: s.step, atS: (s.startMs - r.runStartMs) / 1000 };
        if (allowed) findings.standInsDuring++;
        else if (s.late > 0 && s.failedCalls === 0) findings.standInsLate.push(at);
        else findings.standInsOutside.push(at);
      }
    }
  }
  const v = findings.violations;
  if (findings.failedSteps > 0) v.push(`${findings.failedSteps} training steps failed`);
  if (findings.nanLosses > 0) v.push(`${findings.nanLosses} NaN losses`);
  if (findings.standInsOutside.length > 0)
    v.push(`${findings.standInsOutside.length} stand-in answers outside the outage`);
  if (r.outage && findings.standInsDuring === 0) v.push('no stand-in answered during the outage');
  if (r.outage && findings.linkBackMs === null) v.push('a link to the cut host never carried answers again');
  else if (findings.linkBackMs !== null && findings.linkBackMs > LINK_BACK_WITHIN_MS)
    v.push(`the link came back ${findings.linkBackMs} ms after the outage (> ${LINK_BACK_WITHIN_MS})`);
  findings.tensors.forEach((t, i) => {
    if (t.growth > 0) v.push(`peer ${i + 1}: numTensors grew by ${t.growth} after its first steps`);
  });
  if (findings.chainRowsMissing.length > 0)
    v.push(`the chain has no weight row of ${findings.chainRowsMissing.length} peer(s)`);
  if (r.chain.rows.length !== r.peers.length) v.push('not every peer has a uid on the chain');
  return findings;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The findings as text (markdown table rows and a verdict), for the script's output and the results page. */
export function soakSummary(r: TrainingSoakResult, f: SoakFindings): string {
  const secs = (ms: number) => ((ms - r.runStartMs) / 1000).toFixed(1);
  const short = (id: string) => id.slice(0, 8);
  const lines: string[] = [];
  lines.push(
    `training ${((r.runEndMs - r.runStartMs) / 1000).toFixed(0)} s; ${r.outage ? `outage of home ${r.outage.home} (${short(r.outage.peerId)}) from ${secs(r.outage.startMs)} s to ${secs(r.outage.endMs)} s` : 'no outage'}`,
  );
  lines.push(
    '| peer | steps | step ms p50 / p90 | loss first 50 → last 50 | stand-ins | late / failed calls | numTensors ref → last (max) | chain row set at / others |',
  );
  lines.push('|---|---|---|---|---|---|---|---|');
  r.peers.forEach((p, i) => {
    const durations = p.steps.map((s) => s.endMs - s.startMs).sort((a, b) => a - b);
    const losses = p.steps.map((s) => s.loss).filter(Number.isFinite);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const t = f.tensors[i]!;
    const row = r.chain.rows.find((c) => c.peerId === p.peerId);
    lines.push(
      `| ${i + 1}${p.peerId === r.outage?.peerId ? ' (cut)' : ''} | ${p.steps.length} | ${quantile(durations, 0.5)} / ${quantile(durations, 0.9)} | ${mean(losses.slice(0, 50)).toFixed(3)} → ${mean(losses.slice(-50)).toFixed(3)} | ${p.steps.reduce((a, s) => a + s.standIns.length, 0)} | ${p.steps.reduce((a, s) => a + s.late, 0)} / ${p.steps.reduce((a, s) => a + s.failedCalls, 0)} | ${t.reference} → ${t.last} (${t.max}) | ${row ? `${row.lastSetHeight} / ${row.othersInRow}` : 'none'} |`,
    );
  });
  lines.push('');
  lines.push(`failed steps: ${f.failedSteps}; NaN losses: ${f.nanLosses}`);
  lines.push(
    `stand-in answers: ${f.standInsDuring} during the outage, ${f.standInsOutside.length} outside it, ${f.standInsLate.length} for answers that were only late`,
  );
  for (const s of f.standInsOutside.slice(0, 10))
    lines.push(
      `  outside: ${short(s.caller)} stood in for ${short(s.callee)} at step ${s.step} (${s.atS.toFixed(1)} s)`,
    );
  lines.push(
    `answers across the cut link again after the outage: ${f.linkBack.map((b) => `${short(b.caller)}←${short(b.callee)} ${b.ms === null ? 'never' : `${b.ms} ms`}`).join(', ')}`,
  );
  lines.push(
    `mesh re-linked to the cut peer: ${f.meshRelinkMs.map((m) => `${short(m.peerId)} ${m.dropped ? (m.ms === null ? 'dropped, not re-made' : `${m.ms} ms`) : 'link never dropped'}`).join(', ')}`,
  );
  lines.push(`chain height ${r.chain.height}; peers without a weight row: ${f.chainRowsMissing.length}`);
  lines.push(f.violations.length === 0 ? 'TARGETS MET' : `TARGETS MISSED: ${f.violations.join('; ')}`);
  return lines.join('\n');
}

/** Characters of a peer id kept in written records (the full ids make most of a soak's JSON). */
export const SHORT_PEER_ID_CHARS = 8;

/** The result with every peer id cut to SHORT_PEER_ID_CHARS (records, links, outage, chain rows), for writing. */
export function withShortPeerIds<R extends TrainingSoakResult>(r: R): R {
  const short = (id: string) => id.slice(0, SHORT_PEER_ID_CHARS);
  return {
    ...r,
    outage: r.outage ? { ...r.outage, peerId: short(r.outage.peerId) } : null,
    peers: r.peers.map((p) => ({
      ...p,
      peerId: short(p.peerId),
      steps: p.steps.map((s) => ({ ...s, standIns: s.standIns.map(short), remote: s.remote.map(short) })),
      links: p.links.map((l) => ({ atMs: l.atMs, info: { ...l.info, peerId: short(l.info.peerId) } })),
    })),
    chain: { ...r.chain, rows: r.chain.rows.map((row) => ({ ...row, peerId: short(row.peerId) })) },
  };
}
