/** Messages between the test process and a wrtc agent (src/wrtc-agent.ts) over Node IPC. */
import type { SelectedPair } from './ice-stats.js';

export interface AgentIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface AgentConfig {
  iceServers: AgentIceServer[];
  iceTransportPolicy?: 'all' | 'relay';
}

/** An SDP or a trickled candidate (null candidate = end of candidates), relayed verbatim. */
export type AgentSignal =
  | { kind: 'description'; description: { type: 'offer' | 'answer'; sdp: string } }
  | { kind: 'candidate'; candidate: { candidate: string; sdpMid: string | null; sdpMLineIndex: number | null } };

export type ToAgent =
  /** echo: send every received message straight back (RTT probes). */
  | { type: 'open'; config: AgentConfig; initiator: boolean; echo?: boolean }
  | { type: 'signal'; signal: AgentSignal }
  | { type: 'send'; text: string }
  | { type: 'stats'; requestId: number }
  | { type: 'close' };

export type FromAgent =
  | { type: 'ready' }
  | { type: 'signal'; signal: AgentSignal }
  | { type: 'ice-state'; state: string; atMs: number }
  | { type: 'connection-state'; state: string; atMs: number }
  | { type: 'candidate-error'; errorCode: number; errorText: string; url: string; atMs: number }
  | { type: 'channel-open'; atMs: number }
  | { type: 'channel-close'; atMs: number }
  | { type: 'message'; text: string; atMs: number }
  | { type: 'stats'; requestId: number; selected: SelectedPair | null }
  | { type: 'error'; message: string };
