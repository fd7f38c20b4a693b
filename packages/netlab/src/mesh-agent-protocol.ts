/** Messages between the test process and the lab's mesh agents (mesh-agent.ts, signaling-agent.ts). */
import type { SignalingMetrics } from '@peerbench/signaling-server';
import type { AgentLifecycleMessage, AgentStop, PeerAgentMessage } from './agent-child.js';

export interface MeshAgentStart {
  type: 'start';
  signalingUrl: string;
  room: string;
  /** PeerMesh's connectTimeoutMs (default LINK_CONNECT_DEADLINE_MS). */
  connectTimeoutMs?: number;
  linkReportDebounceMs?: number;
}

export type ToMeshAgent =
  | MeshAgentStart
  /** Round trip over the data channel (an RPC both ways); answered by `pong`. */
  | { type: 'ping'; requestId: number; peerId: string }
  | AgentStop;

export type FromMeshAgent =
  | AgentLifecycleMessage
  | PeerAgentMessage
  /** Fresh ICE servers arrived (after a TURN 401); `turnRefreshes` requests were sent so far. */
  | { type: 'ice-servers'; usernames: string[]; turnRefreshes: number; atMs: number }
  | { type: 'pong'; requestId: number; rttMs: number | null; error?: string };

export interface SignalingAgentConfig {
  host: string;
  port: number;
  /** TURN REST issuing (the server's own turn-credentials.ts). */
  turn?: { secret: string; stunUrls: string[]; turnUrls: string[]; ttlS: number };
  /**
   * Each peer's first welcome carries credentials that expired an hour ago
   * (a peer that held them across a long sleep); later ones (an `ice-refresh`)
   * are fresh. For the TURN 401 → fresh credentials test.
   */
  expiredFirst?: boolean;
}

export type ToSignalingAgent =
  | { type: 'start'; config: SignalingAgentConfig }
  | { type: 'metrics' }
  | AgentStop;

export type FromSignalingAgent =
  | AgentLifecycleMessage
  | { type: 'listening'; url: string }
  | { type: 'metrics'; metrics: SignalingMetrics };
