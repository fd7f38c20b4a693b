/**
 * The dashboard's view of a big network (issue 14): your rank as a share of
 * the network and as a percentile, the top ranks with yours beside them, the
 * part of W that concerns your neighbourhood, and paging for long tables.
 * Pure functions of the latest block's NetworkView; tested in
 * test/networkStanding.test.ts.
 */
import type { NeighbourhoodView, NetworkView } from '@peerbench/peer';

export interface Standing {
  /** Your rank over the sum of all ranks (0..1). */
  share: number;
  /** Share of the other registered peers whose rank is below yours (0..1; 1 = above everyone). */
  percentile: number;
  /** 1 = highest rank. */
  position: number;
  /** Registered peers (uids) in the block. */
  of: number;
}

/** Where `uid` stands in the latest block, or null when it is not in it. */
export function standingOf(net: NetworkView | null, uid: number | null): Standing | null {
  if (!net || uid === null) return null;
  const mine = net.peers.find((p) => p.uid === uid);
  if (!mine) return null;
  const total = net.peers.reduce((a, p) => a + (Number.isFinite(p.rank) ? p.rank : 0), 0);
  const others = net.peers.length - 1;
  const below = net.peers.filter((p) => p.uid !== uid && p.rank < mine.rank).length;
  return {
    share: total > 0 ? mine.rank / total : 0,
    percentile: others > 0 ? below / others : 1,
    position: 1 + net.peers.filter((p) => p.rank > mine.rank).length,
    of: net.peers.length,
  };
}

export interface RankedPeer {
  uid: number;
  peerId: string;
  rank: number;
  position: number;
  isSelf: boolean;
}

/** The `k` highest ranks, plus yours after them when you are not among them. */
export function topRanks(net: NetworkView | null, uid: number | null, k: number): RankedPeer[] {
  if (!net) return [];
  const sorted = [...net.peers].sort((a, b) => b.rank - a.rank || a.uid - b.uid);
  const rows = sorted.map((p, i) => ({
    uid: p.uid,
    peerId: p.peerId,
    rank: p.rank,
    position: i + 1,
    isSelf: p.uid === uid,
  }));
  const top = rows.slice(0, k);
  const mine = rows.find((r) => r.isSelf);
  if (mine && !top.includes(mine)) top.push(mine);
  return top;
}

/** Most peers the heatmap draws (you first, then your neighbours). */
export const MAX_HEATMAP_PEERS = 16;

/**
 * The uids the heatmap shows: you, then your neighbours (from the
 * neighbourhood view, else the peers you know), those registered in the
 * block, at most MAX_HEATMAP_PEERS.
 */
export function neighbourhoodUids(
  net: NetworkView,
  selfUid: number | null,
  neighbourhood: NeighbourhoodView | undefined,
  knownPeerIds: readonly string[],
): number[] {
  const uidOf = new Map(net.peers.map((p) => [p.peerId, p.uid]));
  const ids = neighbourhood ? neighbourhood.neighbours.map((n) => n.peerId) : knownPeerIds;
  const out: number[] = [];
  if (selfUid !== null && selfUid < net.peers.length) out.push(selfUid);
  for (const id of ids) {
    const uid = uidOf.get(id);
    if (uid !== undefined && !out.includes(uid)) out.push(uid);
    if (out.length >= MAX_HEATMAP_PEERS) break;
  }
  return out;
}

/** The sub-matrix of W over `uids` (row-major, `uids.length`²), from the block's sparse rows. */
export function subWeights(net: NetworkView, uids: readonly number[]): Float64Array {
  const n = uids.length;
  const col = new Map(uids.map((u, k) => [u, k]));
  const w = new Float64Array(n * n);
  uids.forEach((u, i) => {
    for (const [j, value] of net.weights[u] ?? []) {
      const k = col.get(j);
      if (k !== undefined && Number.isFinite(value)) w[i * n + k] = value;
    }
  });
  return w;
}

/** Rows of one page of a long table: `page` clamped to the pages there are. */
export function pageOf<T>(
  rows: readonly T[],
  page: number,
  pageSize: number,
): { rows: T[]; page: number; pages: number } {
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  const p = Math.min(Math.max(0, page), pages - 1);
  return { rows: rows.slice(p * pageSize, (p + 1) * pageSize), page: p, pages };
}
