/**
 * The Peer's dashboard view: pure functions from the runtime's state (the
 * trainer's slots and counters, the expert server's counters, the latest
 * chain state) to the parts of a PeerSnapshot (state.ts) that the web app
 * renders and the swarm CLI records. Nothing here publishes; `probeLatency`
 * fills the latency map the rows read.
 */
import type { ExpertNetwork } from '@peerbench/mesh';
import type { ChainState } from './chain.js';
import type { AnswerStats } from './expert-calls.js';
import type { ExpertServerStats } from './expert-server.js';
import type { BlockPoint, NetworkView, PeerError, PeerRow, PeerStats } from './state.js';

/** The counters of a Peer that has not stepped yet. */
export const INITIAL_PEER_STATS: PeerStats = {
  forwardRequested: 0,
  answersAccepted: 0,
  answersInvalid: 0,
  answersLate: 0,
  answersFailed: 0,
  standInUsed: 0,
  forwardsServed: 0,
  remoteGradientsApplied: 0,
  remoteGradientsRefused: 0,
  weightTxsSubmitted: 0,
  weightTxsFailed: 0,
  forwardBytesPerStep: 0,
  lastStepMs: null,
};

/** A PeerError with a stable `code` and the message of `err`. */
export function peerError(code: string, err: unknown): PeerError {
  return { code, message: err instanceof Error ? err.message : String(err) };
}

/** `history` with `point` appended, keeping at most the last `limit` points (a new array). */
export function appendBounded<T>(history: readonly T[], point: T, limit: number): T[] {
  const next = history.length >= limit ? history.slice(history.length - limit + 1) : history.slice();
  next.push(point);
  return next;
}

/**
 * The points of `incoming` after the last key of `existing` appended to
 * `existing`, capped to the last `max`; `existing` itself when nothing is
 * new (subscribers comparing references skip work). Histories only grow at
 * the end, so only the tail of `incoming` is scanned: O(new points).
 */
export function appendNewPoints<T>(
  existing: T[],
  incoming: readonly T[],
  key: (p: T) => number,
  max: number,
): T[] {
  const last = existing.length > 0 ? key(existing[existing.length - 1]!) : Number.NEGATIVE_INFINITY;
  let start = incoming.length;
  while (start > 0 && key(incoming[start - 1]!) > last) start--;
  if (start === incoming.length) return existing;
  const merged = existing.concat(incoming.slice(start));
  return merged.length > max ? merged.slice(merged.length - max) : merged;
}

/** The network as of `state`: height, τ, every uid's stake and rank, and a copy of W. */
export function networkView(state: ChainState): NetworkView {
  return {
    height: state.height,
    tau: state.tau,
    peers: state.peerIds.map((peerId, u) => ({
      uid: u,
      peerId,
      stake: state.stakes[u] ?? 0,
      rank: state.ranks[u] ?? 0,
    })),
    weights: state.weights.map((row) => row.slice()),
    ...(state.selfWeightsInRank !== undefined ? { selfWeightsInRank: state.selfWeightsInRank } : {}),
  };
}

/** Peer `uid`'s point of the block history at `state`. */
export function blockPoint(state: ChainState, uid: number, timeMs: number): BlockPoint {
  return {
    height: state.height,
    timeMs,
    stake: state.stakes[uid] ?? 0,
    rank: state.ranks[uid] ?? 0,
    tau: state.tau,
  };
}

/** The runtime counters after a step: the trainer's answers, the expert server's, and the weight txs of `prev`. */
export function stepStats(
  prev: PeerStats,
  answers: AnswerStats,
  server: ExpertServerStats | undefined,
  steps: number,
  lastStepMs: number,
  numTensors: number,
): PeerStats {
  return {
    ...prev,
    forwardRequested: answers.requested,
    answersAccepted: answers.accepted,
    answersInvalid: answers.invalid,
    answersLate: answers.late,
    answersFailed: answers.failed,
    standInUsed: answers.standIn,
    forwardsServed: server?.forwardsServed ?? 0,
    remoteGradientsApplied: server?.backwardsApplied ?? 0,
    remoteGradientsRefused: server?.backwardsRefused ?? 0,
    forwardBytesPerStep: (answers.forwardRequestBytes + answers.forwardAnswerBytes) / Math.max(1, steps),
    lastStepMs,
    numTensors,
  };
}

/** What the peers table is built from (see `peerRows`). */
export interface PeerRowsInput {
  /** The trainer's slot table: slot → peerId, slot 0 = self. */
  slots: ReadonlyArray<string | null>;
  /** Per slot, the gate's importance share. */
  gateWeights: ArrayLike<number>;
  /** Peers the network reaches now. */
  online: ReadonlySet<string>;
  /** Latest measured round-trip time per peer, in ms. */
  latencyMs: ReadonlyMap<string, number>;
  uidOf: (peerId: string) => number | null;
  /** The latest NetworkView and this peer's uid (for its row of W). */
  network: NetworkView | null;
  uid: number | null;
}

/** The peers table: self and every slot, with gate weight, our w_ij, stake and rank. */
export function peerRows(input: PeerRowsInput): PeerRow[] {
  const { network: net, uid: myUid } = input;
  const myRow = new Map<number, number>(myUid !== null && net ? (net.weights[myUid] ?? []) : []);
  const rows: PeerRow[] = [];
  input.slots.forEach((peerId, s) => {
    if (peerId === null) return;
    const uid = input.uidOf(peerId);
    const onChain = uid !== null ? net?.peers[uid] : undefined;
    rows.push({
      peerId,
      uid,
      online: s === 0 || input.online.has(peerId),
      isSelf: s === 0,
      latencyMs: s === 0 ? 0 : (input.latencyMs.get(peerId) ?? null),
      gateWeight: input.gateWeights[s] ?? 0,
      weight: uid !== null ? (myRow.get(uid) ?? 0) : 0,
      stake: onChain?.stake ?? 0,
      rank: onChain?.rank ?? 0,
    });
  });
  return rows;
}

/** Pings every linked peer once; records each round trip in `into` (a failed ping removes the entry). */
export async function probeLatency(net: ExpertNetwork | null, into: Map<string, number>): Promise<void> {
  if (!net?.ping) return;
  await Promise.all(
    net.peers().map(async (p) => {
      try {
        into.set(p, await net.ping!(p));
      } catch {
        into.delete(p);
      }
    }),
  );
}
