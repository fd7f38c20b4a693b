/** Messages between the test process and the lab's mesh agents (mesh-agent.ts, signaling-agent.ts). */
import type { LinkInfo } from '@peerbench/mesh';
import type { SignalingMetrics } from '@peerbench/signaling-server';

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
  | { type: 'stop' };

export type FromMeshAgent =
  | { type: 'ready' }
  | { type: 'started'; peerId: string }
  | { type: 'link'; info: LinkInfo; atMs: number }
  /** The mesh's signaling connection changed state (connecting, connected, reconnecting, closed). */
  | { type: 'signaling'; state: string; atMs: number }
  /** Fresh ICE servers arrived (after a TURN 401); `turnRefreshes` requests were sent so far. */
  | { type: 'ice-servers'; usernames: string[]; turnRefreshes: number; atMs: number }
  | { type: 'pong'; requestId: number; rttMs: number | null; error?: string }
  | { type: 'error'; message: string };

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
  | { type: 'stop' };

export type FromSignalingAgent =
  | { type: 'ready' }
  | { type: 'listening'; url: string }
  | { type: 'metrics'; metrics: SignalingMetrics }
  | { type: 'error'; message: string };
