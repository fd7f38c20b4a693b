export { RpcError, type RpcErrorCode, type WireDtype, type WireTensor } from '@peerbench/protocol';
export { Emitter } from './emitter.js';
export { fetchGenesis, GENESIS_FETCH_TIMEOUT_MS, GenesisFetchError, httpBaseOf } from './http.js';
export {
  type CandidateSummary,
  type CandidateType,
  CONNECTION_TYPES,
  type ConnectionType,
  connectionTypeOf,
  isTurnAuthError,
  type SelectedPair,
  type StatsReportLike,
  selectedPairFromStats,
} from './ice-stats.js';
export * from './in-memory-network.js';
export {
  type JoinNetworkOptions,
  joinNetwork,
  type NetworkSession,
  type Observable,
} from './join.js';
export {
  LEDGER_TX_TIMEOUT_MS,
  type LedgerSignaling,
  type LedgerTransport,
  type LedgerTxResult,
  signalingLedgerTransport,
} from './ledger-channel.js';
export {
  createMemoryLinkPair,
  type Link,
  LinkClosedError,
  type LinkListener,
  type MemoryLinkPair,
} from './link.js';
export { LINK_HEARTBEAT_INTERVAL_MS, LINK_HEARTBEAT_MISSES, startLinkHeartbeat } from './link-heartbeat.js';
export { LINK_REPORT_DEBOUNCE_MS } from './link-reporter.js';
export {
  CONNECTION_TYPE_MAX_READS,
  CONNECTION_TYPE_RETRY_MS,
  type LinkInfo,
  type LinkPatch,
  type LinkState,
  LinkTable,
} from './link-status.js';
export * from './mesh-network.js';
export * from './neighbourhood.js';
export * from './network.js';
export {
  DEFAULT_MAX_PEERS,
  LINK_CONNECT_DEADLINE_MS,
  LINK_RETRY_INITIAL_DELAY_MS,
  LINK_RETRY_MAX_DELAY_MS,
  type MeshConnectionState,
  PEER_LEFT_PROBE_TIMEOUT_MS,
  PeerMesh,
  type PeerMeshEvents,
  type PeerMeshOptions,
} from './peer-mesh.js';
export {
  type HandlerContext,
  INVALID_FRAME_WINDOW_MS,
  MAX_CONCURRENT_HANDLERS_PER_PEER,
  MAX_INVALID_FRAMES_PER_WINDOW,
  REASSEMBLY_SWEEP_INTERVAL_MS,
  type RequestOptions,
  type RpcHandler,
  RpcSession,
  type RpcSessionOptions,
  type RpcSessionStats,
} from './rpc-session.js';
export {
  DRAIN_POLL_FALLBACK_MS,
  DRAIN_POLL_MS,
  SEND_HIGH_WATER_BYTES,
  SEND_LOW_WATER_BYTES,
  SEND_QUEUE_MAX_BYTES,
  SendQueueFullError,
} from './send-queue.js';
export { parseServerUrls, ServerUrlError, ServerUrlRotation, type ServerUrls } from './server-urls.js';
export {
  CLOSE_KEEPALIVE_TIMEOUT,
  RECONNECT_INITIAL_DELAY_MS,
  RECONNECT_MAX_DELAY_MS,
  SignalingClient,
  type SignalingClientOptions,
  type SignalingEvents,
  type SignalingState,
  type Welcome,
} from './signaling-client.js';
export { type KeepaliveHooks, type KeepaliveTimings, SignalingKeepalive } from './signaling-keepalive.js';
export { TURN_REFRESH_MIN_INTERVAL_MS, TurnCredentialRefresher } from './turn-refresh.js';
export {
  DATA_CHANNEL_LABEL,
  type IceCandidateErrorLike,
  WebRtcConnection,
  type WebRtcConnectionOptions,
} from './webrtc-link.js';
export { createWebRtcLinkPair, type WebRtcLinkPair } from './webrtc-pair.js';
export { backoffDelayMs, type WebSocketConstructor, type WebSocketLike } from './websocket.js';
