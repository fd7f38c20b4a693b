/** PeerMesh's options, events and the constants behind their defaults (peer-mesh.ts). */
import type { Identity } from '@peerbench/protocol';
import type { LinkInfo } from './link-status.js';
import type { ServerUrls } from './server-urls.js';
import type { KeepaliveTimings } from './signaling-keepalive.js';
import type { WebSocketConstructor } from './websocket.js';

export const DEFAULT_MAX_PEERS = 16;
/**
 * A WebRTC connection whose data channel is not open after this long is
 * closed and reported `failed` (the lower id then retries with backoff).
 * Measured across a symmetric NAT without TURN, wrtc's own ICE failure came
 * after ~15-20 s, and on one side sometimes not within 40 s (packages/netlab).
 */
export const LINK_CONNECT_DEADLINE_MS = 15_000;

export const LINK_RETRY_INITIAL_DELAY_MS = 200;
export const LINK_RETRY_MAX_DELAY_MS = 10_000;
/** After `peer-left`, a link that answers a ping within this time is kept (only its signaling dropped). */
export const PEER_LEFT_PROBE_TIMEOUT_MS = 1500;

export type MeshConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface PeerMeshOptions {
  /** One server, or clustered instances to fail over between (SignalingClientOptions.url). */
  signalingUrl: ServerUrls;
  room: string;
  identity: Identity;
  /** WebRTC implementation for Node (`@roamhq/wrtc`); browsers use their own. */
  wrtc?: unknown;
  /** Most WebRTC links at once (connecting + connected). */
  maxPeers?: number;
  /**
   * Bounded neighbourhood (issue 14): link to nobody on its own; links form
   * through `PeerMesh.neighbourhood.link(id)`, at most `maxLinks` (which
   * replaces maxPeers), refused beyond it, never re-formed by the mesh.
   * Without it the mesh links to every member it hears of, as before.
   */
  neighbourhood?: { maxLinks: number };
  /** WebSocket implementation for Node 20 (the `ws` package); browsers use their own. */
  WebSocket?: WebSocketConstructor;
  /** See LINK_CONNECT_DEADLINE_MS. */
  connectTimeoutMs?: number;
  reconnectInitialDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** The signaling socket's liveness check (SignalingClientOptions.keepalive). */
  signalingKeepalive?: KeepaliveTimings | false;
  /** See PEER_LEFT_PROBE_TIMEOUT_MS. */
  peerLeftProbeTimeoutMs?: number;
  /** See LINK_REPORT_DEBOUNCE_MS and TURN_REFRESH_MIN_INTERVAL_MS. */
  linkReportDebounceMs?: number;
  turnRefreshMinIntervalMs?: number;
  /** See LINK_HEARTBEAT_INTERVAL_MS. */
  linkHeartbeatIntervalMs?: number;
  /** Per-link send queue cap (SEND_QUEUE_MAX_BYTES). */
  sendQueueMaxBytes?: number;
}

export type PeerMeshEvents = {
  'peer-connected': [string];
  'peer-disconnected': [string];
  connection: [MeshConnectionState];
  link: [LinkInfo];
};
