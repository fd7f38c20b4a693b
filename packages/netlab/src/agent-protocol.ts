/** Messages between the test process and a wrtc agent (src/wrtc-agent.ts) over Node IPC. */
import type { SelectedPair } from '@peerbench/mesh';
import type { AgentLifecycleMessage } from './agent-child.js';

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
  | {
      kind: 'candidate';
      candidate: { candidate: string; sdpMid: string | null; sdpMLineIndex: number | null };
    };

export type ToAgent =
  /**
   * echo: send every received message straight back (RTT probes).
   * connectTimeoutMs: report `connect-timeout` if not connected by then (the
   * stack's own ICE failure comes late or, on one side, not at all).
   */
  | { type: 'open'; config: AgentConfig; initiator: boolean; echo?: boolean; connectTimeoutMs?: number }
  | { type: 'signal'; signal: AgentSignal }
  | { type: 'send'; text: string }
  /** ICE restart: a new offer with fresh ICE credentials on the same connection (initiator only). */
  | { type: 'restart-ice' }
  | { type: 'stats'; requestId: number }
  | { type: 'close' };

export type FromAgent =
  | AgentLifecycleMessage
  | { type: 'signal'; signal: AgentSignal }
  | { type: 'ice-state'; state: string; atMs: number }
  | { type: 'connection-state'; state: string; atMs: number }
  | { type: 'candidate-error'; errorCode: number; errorText: string; url: string; atMs: number }
  | { type: 'connect-timeout'; atMs: number }
  | { type: 'channel-open'; atMs: number }
  | { type: 'channel-close'; atMs: number }
  | { type: 'message'; text: string; atMs: number }
  | { type: 'stats'; requestId: number; selected: SelectedPair | null };
