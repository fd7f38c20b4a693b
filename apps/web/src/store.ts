/**
 * The app's state: a vanilla zustand store. The runtime (runtime.ts) is its
 * only writer; React components and the canvas/uPlot charts only read it.
 * Everything that decides what the state becomes is a pure function here, so
 * it is tested without a browser.
 */

import type {
  BackendReport,
  BlockPoint,
  NetworkView,
  PeerError,
  PeerSnapshot,
  StepPoint,
} from '@peerbench/peer';
import { appendNewPoints } from '@peerbench/peer/view';
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { LaunchConfig } from './config.js';
import { type CpuLevel, DEFAULT_CPU_LEVEL } from './cpuUse.js';
import type { LinkView } from './links.js';
import type { PeerThread } from './peerConfig.js';
import { MAX_BLOCK_POINTS, MAX_LOSS_POINTS } from './persistence.js';

/** 'landing' until Contribute is pressed; then the runtime's status decides. */
export type Phase = 'loading' | 'landing' | 'contributing';

export interface AppState {
  phase: Phase;
  launch: LaunchConfig;
  shareUrl: string;
  /** The first-screen guess; replaced by snapshot.backend once the Peer runs. */
  probe: BackendReport | null;
  /** Own identity as soon as it is loaded (before the Peer starts). */
  peerId: string | null;
  identitySlot: number | null;
  snapshot: PeerSnapshot | null;
  /** Persisted history merged with the live one (x: timeMs for loss, height for blocks). */
  lossHistory: StepPoint[];
  blockHistory: BlockPoint[];
  /** Errors from the app around the Peer (storage, failing to start). */
  appError: PeerError | null;
  /** Notes a person should read once (e.g. saved data migrated or unreadable). */
  notes: string[];
  /** Block points already written to IndexedDB (what a reload would bring back). */
  savedBlockCount: number;
  /** Where the running Peer trains: a background worker or this page's main thread (null before it starts). */
  peerThread: PeerThread | null;
  cpu: CpuState;
  /** This peer's WebRTC links by remote peer id, from the mesh (links.ts). */
  links: Record<string, LinkView>;
}

/** The "CPU use" setting: what the person wants, where that came from, and what the worker confirmed. */
export interface CpuState {
  level: CpuLevel;
  source: 'url' | 'saved' | 'default' | 'chosen';
  /** The level the worker's loop runs at (its answer); null before it starts and on the main thread. */
  applied: CpuLevel | null;
}

export type AppStore = StoreApi<AppState>;

export function initialAppState(launch: LaunchConfig, shareUrl: string): AppState {
  return {
    phase: 'loading',
    launch,
    shareUrl,
    probe: null,
    peerId: null,
    identitySlot: null,
    snapshot: null,
    lossHistory: [],
    blockHistory: [],
    appError: null,
    notes: [...launch.warnings],
    savedBlockCount: 0,
    peerThread: null,
    links: {},
    cpu: launch.forcedCpu
      ? { level: launch.forcedCpu, source: 'url', applied: null }
      : { level: DEFAULT_CPU_LEVEL, source: 'default', applied: null },
  };
}

export function createAppStore(initial: AppState): AppStore {
  return createStore<AppState>()(() => initial);
}

/** The capped history merge the worker bridge uses too (type-only imports: no tfjs in this bundle). */
export { appendNewPoints };

const lossKey = (p: StepPoint) => p.timeMs;
const blockKey = (p: BlockPoint) => p.height;

/** What a new Peer snapshot changes in the app state. */
export function reduceSnapshot(state: AppState, snapshot: PeerSnapshot): Partial<AppState> {
  const lossHistory = appendNewPoints(state.lossHistory, snapshot.lossHistory, lossKey, MAX_LOSS_POINTS);
  const blockHistory = appendNewPoints(state.blockHistory, snapshot.blockHistory, blockKey, MAX_BLOCK_POINTS);
  return { snapshot, lossHistory, blockHistory, phase: 'contributing' };
}

/** Restores saved history (only ever before live points arrive). */
export function reduceRestoredHistory(
  state: AppState,
  history: { loss: StepPoint[]; blocks: BlockPoint[] },
): Partial<AppState> {
  return {
    lossHistory: appendNewPoints(history.loss, state.lossHistory, lossKey, MAX_LOSS_POINTS),
    blockHistory: appendNewPoints(history.blocks, state.blockHistory, blockKey, MAX_BLOCK_POINTS),
  };
}

/** The error to show, most actionable first. */
export function visibleError(state: AppState): PeerError | null {
  return state.appError ?? state.snapshot?.error ?? null;
}

/** Derived numbers the dashboard header shows. */
export function headline(state: AppState): {
  height: number | null;
  tau: number | null;
  stake: number | null;
  rank: number | null;
  rankPosition: number | null;
  peersOnline: number;
  peersKnown: number;
} {
  const snap = state.snapshot;
  const net = snap?.network ?? null;
  const lastBlock = state.blockHistory.at(-1) ?? null;
  let rankPosition: number | null = null;
  if (net && snap?.uid !== null && snap?.uid !== undefined) {
    const mine = net.peers.find((p) => p.uid === snap.uid);
    if (mine) rankPosition = 1 + net.peers.filter((p) => p.rank > mine.rank).length;
  }
  const remotes = snap?.peers.filter((p) => !p.isSelf) ?? [];
  return {
    height: net?.height ?? lastBlock?.height ?? null,
    tau: net?.tau ?? lastBlock?.tau ?? null,
    stake: lastBlock?.stake ?? null,
    rank: lastBlock?.rank ?? null,
    rankPosition,
    peersOnline: remotes.filter((p) => p.online).length,
    peersKnown: remotes.length,
  };
}

/** Dense n×n W from the sparse rows of the latest block (for the heatmap). */
export function denseWeights(
  rows: ReadonlyArray<ReadonlyArray<readonly [number, number]>>,
  n: number,
): Float64Array {
  const w = new Float64Array(n * n);
  for (let i = 0; i < Math.min(rows.length, n); i++) {
    for (const [j, value] of rows[i] ?? []) {
      if (j >= 0 && j < n && Number.isFinite(value)) w[i * n + j] = value;
    }
  }
  return w;
}

export interface Notice {
  kind: 'error' | 'warning' | 'info';
  code: string;
  title: string;
  message: string;
  /** 'retry': the runtime's retryNow() applies. */
  action?: 'retry';
}

const ERROR_TITLES: Record<string, string> = {
  'server-unreachable': 'Cannot reach the server',
  'webrtc-blocked': 'WebRTC is blocked',
  'backend-fallback': 'Running on a slower backend',
  'start-failed': 'Could not start',
};

/**
 * Everything the banner area says, most urgent first. Pure, so the wording
 * rules (what counts as "no peers yet", when a fallback is worth saying) are
 * tested.
 */
export function notices(state: AppState, describeFallback: (r: BackendReport) => string | null): Notice[] {
  const out: Notice[] = [];
  const snap = state.snapshot;
  if (state.appError) {
    out.push({
      kind: 'error',
      code: state.appError.code,
      title: ERROR_TITLES[state.appError.code] ?? 'Something went wrong',
      message: state.appError.message,
      ...(state.appError.code === 'server-unreachable' || state.appError.code === 'start-failed'
        ? { action: 'retry' as const }
        : {}),
    });
  }
  // The runtime's appError already reports (and retries) a failed start; the Peer's own 'start-failed' says the same.
  const duplicate = state.appError !== null && snap?.error?.code === 'start-failed';
  if (snap?.error && snap.error.code !== state.appError?.code && !duplicate) {
    out.push({
      kind: snap.error.code === 'backend-fallback' ? 'info' : 'error',
      code: snap.error.code,
      title: ERROR_TITLES[snap.error.code] ?? 'Something went wrong',
      message: snap.error.message,
    });
  }
  if (snap && !snap.error && !state.appError && snap.connection === 'reconnecting') {
    out.push({
      kind: 'warning',
      code: 'reconnecting',
      title: 'Connection lost',
      message:
        'The connection to the server dropped; reconnecting. Training goes on with the peers already connected.',
    });
  }
  if (snap && snap.connection === 'connected' && (snap.status === 'running' || snap.status === 'paused')) {
    if (!snap.peers.some((p) => !p.isSelf && p.online)) {
      out.push({
        kind: 'info',
        code: 'no-peers',
        title: 'No peers yet',
        message: `You are the only peer online in room “${snap.room}”. Your model trains on its own until someone joins: share the link below.`,
      });
    }
  }
  const report = snap?.backend ?? state.probe;
  if (report && !out.some((n) => n.code === 'backend-fallback')) {
    const text = describeFallback(report);
    if (text)
      out.push({
        kind: 'info',
        code: 'backend-fallback',
        title: ERROR_TITLES['backend-fallback']!,
        message: text,
      });
  }
  for (const [i, note] of state.notes.entries())
    out.push({ kind: 'warning', code: `note-${i}`, title: 'Note', message: note });
  return out;
}

/** Where this peer's rank comes from, as of the latest block (see `rankSources`). */
export interface RankSources {
  /** s_j·w_jj over Σ_i s_i·w_ij: the part of the stake-weighted column that is this peer's own row. */
  ownShare: number;
  /** Whether the ledger counts w_jj in R at all (false: ownShare is 0 and R comes from others only). */
  ownCounted: boolean;
  /** The other peers that value it, largest first: uid and share of Σ_{i≠j} s_i·w_ij. */
  from: Array<{ uid: number; share: number }>;
}

/**
 * The stake-weighted column of W for `uid`, split into its own row and the
 * others' (R_j ∝ Σ_i s_i w_ij, eq 5). Null before a block or when nobody,
 * itself included, puts weight on it.
 */
export function rankSources(net: NetworkView | null, uid: number | null, top = 3): RankSources | null {
  if (!net || uid === null) return null;
  const ownCounted = net.selfWeightsInRank !== false;
  let own = 0;
  let others = 0;
  const parts: Array<{ uid: number; value: number }> = [];
  net.weights.forEach((row, i) => {
    const s = net.peers[i]?.stake ?? 0;
    for (const [j, w] of row) {
      if (j !== uid || !(w > 0) || !(s > 0)) continue;
      if (i === uid) {
        if (ownCounted) own += s * w;
      } else {
        others += s * w;
        parts.push({ uid: i, value: s * w });
      }
    }
  });
  const total = own + others;
  if (!(total > 0)) return ownCounted ? null : { ownShare: 0, ownCounted, from: [] };
  parts.sort((a, b) => b.value - a.value);
  return {
    ownShare: own / total,
    ownCounted,
    from: parts.slice(0, top).map((p) => ({ uid: p.uid, share: p.value / Math.max(others, 1e-300) })),
  };
}
