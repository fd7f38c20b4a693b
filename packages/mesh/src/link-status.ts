/**
 * What each of a mesh's WebRTC links is doing, for dashboards, the server's
 * `/metrics` (peers report it) and tests: connecting, connected (and how:
 * directly or through a TURN relay), or failed and why. One entry per remote
 * peer the mesh is linking to; an entry goes away when the peer leaves the
 * room or the mesh stops (a `closed` event says so).
 */
import { Emitter } from './emitter.js';
import { type ConnectionType, connectionTypeOf, type SelectedPair } from './ice-stats.js';

/** The selected pair may not be in the stats at the very moment the channel opens: ask again this often… */
export const CONNECTION_TYPE_RETRY_MS = 250;
/** …this many times. */
export const CONNECTION_TYPE_MAX_READS = 8;

/**
 * - connecting: an RTCPeerConnection exists and its data channel is not open yet.
 * - connected: the data channel is open.
 * - failed: the last attempt ended without a link (deadline, ICE failure, or
 *   the link dropped) and none is under way; the lower id retries with backoff,
 *   the higher id waits for its offer.
 * - closed: only in events: the entry was removed (peer left, mesh stopped).
 */
export type LinkState = 'connecting' | 'connected' | 'failed' | 'closed';

export interface LinkInfo {
  readonly peerId: string;
  readonly state: LinkState;
  /** How the data travels, from the selected candidate pair; null until the stats name one. */
  readonly type: ConnectionType | null;
  /** The selected pair behind `type` (candidate types and addresses), when known. */
  readonly pair: SelectedPair | null;
  /** Why the last attempt ended, kept while the next one is connecting; null if none ended. */
  readonly reason: string | null;
  /** Attempts in a row that ended without a working link; 0 once one connects. */
  readonly failures: number;
  /** Date.now() when `state` was entered. */
  readonly sinceMs: number;
}

export type LinkPatch = Partial<Pick<LinkInfo, 'state' | 'type' | 'pair' | 'reason' | 'failures'>>;

export class LinkTable {
  private readonly infos = new Map<string, LinkInfo>();
  private readonly events = new Emitter<{ link: [LinkInfo] }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Every link the mesh holds an entry for, in no particular order. */
  list(): LinkInfo[] {
    return [...this.infos.values()];
  }

  get(peerId: string): LinkInfo | undefined {
    return this.infos.get(peerId);
  }

  /** `cb` hears every change (including `closed` when an entry goes); returns unsubscribe. */
  onChange(cb: (info: LinkInfo) => void): () => void {
    return this.events.on('link', cb);
  }

  /** Applies a change; emits only when something changed. */
  update(peerId: string, patch: LinkPatch): LinkInfo {
    const prev = this.infos.get(peerId);
    const base: LinkInfo = prev ?? {
      peerId,
      state: 'connecting',
      type: null,
      pair: null,
      reason: null,
      failures: 0,
      sinceMs: this.now(),
    };
    const stateChanged = prev !== undefined && patch.state !== undefined && patch.state !== prev.state;
    const next: LinkInfo = { ...base, ...patch, ...(stateChanged ? { sinceMs: this.now() } : {}) };
    const changed =
      !prev ||
      next.state !== prev.state ||
      next.type !== prev.type ||
      next.reason !== prev.reason ||
      next.failures !== prev.failures ||
      !samePair(next.pair, prev.pair);
    if (!changed) return prev;
    this.infos.set(peerId, next);
    this.events.emit('link', next);
    return next;
  }

  /** Forgets `peerId`'s entry and says so with a `closed` event. */
  remove(peerId: string, reason: string): void {
    const prev = this.infos.get(peerId);
    if (!prev) return;
    this.infos.delete(peerId);
    this.events.emit('link', { ...prev, state: 'closed', reason, sinceMs: this.now() });
  }
}

/**
 * Reads `conn`'s selected pair into `table` (retrying briefly until the stats
 * name one), while `current()` says the connection is still the peer's.
 */
export async function readConnectionType(
  table: LinkTable,
  peerId: string,
  conn: { selectedPair(): Promise<SelectedPair | null> },
  current: () => boolean,
): Promise<void> {
  for (let read = 0; read < CONNECTION_TYPE_MAX_READS; read++) {
    if (read > 0) await new Promise((r) => setTimeout(r, CONNECTION_TYPE_RETRY_MS));
    if (!current()) return;
    const pair = await conn.selectedPair();
    if (!current()) return;
    if (pair) {
      table.update(peerId, { type: connectionTypeOf(pair), pair });
      return;
    }
  }
}

function samePair(a: SelectedPair | null, b: SelectedPair | null): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    a.local.candidateType === b.local.candidateType &&
    a.remote.candidateType === b.remote.candidateType &&
    a.local.address === b.local.address &&
    a.local.port === b.local.port &&
    a.remote.address === b.remote.address &&
    a.remote.port === b.remote.port
  );
}
