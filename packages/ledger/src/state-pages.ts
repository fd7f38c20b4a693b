/**
 * Reads of the ledger state that stay small however many uids there are
 * (issue 15: with 65,536 uids the whole /ledger/state is 6.7 MB):
 *
 *   statePage     /ledger/state?from=U&limit=L — the chain fields plus the
 *                 per-uid arrays for uids [U, U+L), and `next` while more follow
 *   stateSummary  /ledger/summary — the chain fields, the number of uids and
 *                 the top ranks: what a page header or an operator needs
 *
 * The whole state stays at /ledger/state (cached per block by the server hook).
 */
import type { LedgerStateView } from './state.js';

/** Most uids one /ledger/state page carries (and the default page). */
export const MAX_STATE_PAGE_UIDS = 1024;
/** Uids listed in /ledger/summary's `top`, highest rank first. */
export const SUMMARY_TOP_UIDS = 16;

/** The fields of a state view that do not grow with the number of uids. */
type ChainFields = Omit<
  LedgerStateView,
  'peers' | 'stake' | 'rank' | 'nonces' | 'weights' | 'lastSetHeight' | 'activeRows'
>;

export interface LedgerStatePage extends ChainFields {
  /** Uids in the state. */
  uids: number;
  /** First uid of this page; the arrays below start at it. */
  from: number;
  peers: LedgerStateView['peers'];
  stake: number[];
  rank: number[];
  nonces: LedgerStateView['nonces'];
  weights: LedgerStateView['weights'];
  lastSetHeight: number[];
  activeRows: boolean[];
  /** First uid of the next page, absent on the last one. */
  next?: number;
}

export interface LedgerStateSummary extends ChainFields {
  uids: number;
  /** Uids with an active row. */
  activeUids: number;
  /** The SUMMARY_TOP_UIDS highest ranks (ties: lower uid first). */
  top: { uid: number; peerId: string; stake: number; rank: number }[];
}

function chainFields(view: LedgerStateView): ChainFields {
  const { peers, stake, rank, nonces, weights, lastSetHeight, activeRows, ...rest } = view;
  return rest;
}

/** Uids [from, from+limit) of the view (limit capped at MAX_STATE_PAGE_UIDS). */
export function statePage(view: LedgerStateView, from: number, limit: number): LedgerStatePage {
  const n = view.peers.length;
  const start = Math.min(Math.max(0, Math.floor(from)), n);
  const end = Math.min(n, start + Math.min(MAX_STATE_PAGE_UIDS, Math.max(0, Math.floor(limit))));
  const page: LedgerStatePage = {
    ...chainFields(view),
    uids: n,
    from: start,
    peers: view.peers.slice(start, end),
    stake: view.stake.slice(start, end),
    rank: view.rank.slice(start, end),
    nonces: view.nonces.slice(start, end),
    weights: view.weights.slice(start, end),
    lastSetHeight: view.lastSetHeight.slice(start, end),
    activeRows: view.activeRows.slice(start, end),
  };
  if (end < n) page.next = end;
  return page;
}

export function stateSummary(view: LedgerStateView): LedgerStateSummary {
  const order = view.rank
    .map((rank, uid) => ({ uid, rank }))
    .sort((a, b) => b.rank - a.rank || a.uid - b.uid)
    .slice(0, SUMMARY_TOP_UIDS);
  return {
    ...chainFields(view),
    uids: view.peers.length,
    activeUids: view.activeRows.filter(Boolean).length,
    top: order.map(({ uid, rank }) => ({
      uid,
      peerId: view.peers[uid] ?? '',
      stake: view.stake[uid] ?? 0,
      rank,
    })),
  };
}
