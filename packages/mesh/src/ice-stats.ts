/**
 * Which candidate pair a connection uses, from `getStats()`: the transport's
 * `selectedCandidatePairId` → that `candidate-pair` → its local and remote
 * `candidate`s' `candidateType`. Pure (a stats report in, a summary out): the
 * mesh uses it on every link in a browser and in Node, and packages/netlab on
 * its raw wrtc agents.
 */
import { LINK_CONNECTION_TYPES, type LinkConnectionType } from '@peerbench/protocol';

export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay';

export interface CandidateSummary {
  candidateType: CandidateType;
  address: string;
  port: number;
  protocol: string;
  /** For a relay candidate: udp, tcp or tls between this peer and the TURN server. */
  relayProtocol?: string;
}

export interface SelectedPair {
  local: CandidateSummary;
  remote: CandidateSummary;
  /** True when either side is a relay candidate: a TURN server carries the data. */
  relayed: boolean;
  /** Round-trip time of the pair's last STUN check, when the stack reports it. */
  currentRoundTripTimeS?: number;
}

/**
 * How a link's data travels, from the selected pair: through a TURN relay, or
 * directly; a direct path is named by the most "public" candidate in the pair
 * (`srflx`: a NAT's mapping learned from STUN; `prflx`: a mapping learned from
 * the connectivity checks themselves; `host`: both ends' own addresses).
 */
export const CONNECTION_TYPES = LINK_CONNECTION_TYPES;
export type ConnectionType = LinkConnectionType;

export function connectionTypeOf(pair: SelectedPair): ConnectionType {
  if (pair.relayed) return 'relay';
  const types = [pair.local.candidateType, pair.remote.candidateType];
  if (types.includes('srflx')) return 'direct-srflx';
  if (types.includes('prflx')) return 'direct-prflx';
  return 'direct-host';
}

/** A stats entry as the browser and wrtc give it (a loose record). */
type StatsEntry = Record<string, unknown> & { id: string; type: string };

const CANDIDATE_TYPES = new Set(['host', 'srflx', 'prflx', 'relay']);

function candidate(entry: StatsEntry | undefined): CandidateSummary | null {
  if (!entry) return null;
  const type = entry.candidateType;
  if (typeof type !== 'string' || !CANDIDATE_TYPES.has(type)) return null;
  const summary: CandidateSummary = {
    candidateType: type as CandidateType,
    address: String(entry.address ?? entry.ip ?? ''),
    port: Number(entry.port ?? 0),
    protocol: String(entry.protocol ?? ''),
  };
  if (typeof entry.relayProtocol === 'string') summary.relayProtocol = entry.relayProtocol;
  return summary;
}

/**
 * A stats report as `RTCPeerConnection.getStats()` gives it (a map-like of
 * [id, entry]), or as simple-peer's `getStats(cb)` gives it (an array of
 * entries, each with its `id`).
 */
export type StatsReportLike = Iterable<readonly [string, unknown]> | Iterable<unknown>;

function entriesById(report: StatsReportLike): Map<string, StatsEntry> {
  const byId = new Map<string, StatsEntry>();
  for (const item of report as Iterable<unknown>) {
    const value = Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' ? item[1] : item;
    if (value && typeof value === 'object' && typeof (value as StatsEntry).id === 'string') {
      byId.set((value as StatsEntry).id, value as StatsEntry);
    }
  }
  return byId;
}

/** The selected pair, or null while there is none (ICE not connected yet, or failed). */
export function selectedPairFromStats(report: StatsReportLike): SelectedPair | null {
  const byId = entriesById(report);
  let pair: StatsEntry | undefined;
  for (const entry of byId.values()) {
    if (entry.type === 'transport' && typeof entry.selectedCandidatePairId === 'string') {
      pair = byId.get(entry.selectedCandidatePairId);
      if (pair) break;
    }
  }
  // Older stacks mark the pair itself instead of naming it on the transport.
  if (!pair) {
    for (const entry of byId.values()) {
      if (entry.type === 'candidate-pair' && entry.selected === true) pair = entry;
    }
  }
  if (!pair) return null;
  const local = candidate(byId.get(String(pair.localCandidateId)));
  const remote = candidate(byId.get(String(pair.remoteCandidateId)));
  if (!local || !remote) return null;
  const selected: SelectedPair = {
    local,
    remote,
    relayed: local.candidateType === 'relay' || remote.candidateType === 'relay',
  };
  if (typeof pair.currentRoundTripTime === 'number')
    selected.currentRoundTripTimeS = pair.currentRoundTripTime;
  return selected;
}

/**
 * True for an `icecandidateerror` that means the TURN server refused our
 * credentials (401 Unauthorized; 403 Forbidden for a refused peer/quota is
 * not a credential problem). It arrives within milliseconds, long before ICE
 * would fail: the cue to fetch fresh credentials (rejoin signaling). Other
 * codes (e.g. 701 for an unusable local socket such as ::1) are harmless.
 */
export function isTurnAuthError(e: { errorCode: number; url: string }): boolean {
  return e.errorCode === 401 && /^turns?:/.test(e.url);
}
