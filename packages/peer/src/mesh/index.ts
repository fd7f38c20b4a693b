export { RpcError, type RpcErrorCode, type WireDtype, type WireTensor } from '@peerbench/protocol';
export { Emitter } from './emitter.js';
export {
  createMemoryLinkPair,
  type Link,
  LinkClosedError,
  type LinkListener,
  type MemoryLinkPair,
} from './link.js';
export {
  CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_PEERS,
  LINK_RETRY_INITIAL_DELAY_MS,
  LINK_RETRY_MAX_DELAY_MS,
  type MeshConnectionState,
  PeerMesh,
  type PeerMeshEvents,
  type PeerMeshOptions,
} from './peer-mesh.js';
export {
  DRAIN_POLL_FALLBACK_MS,
  DRAIN_POLL_MS,
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
  SEND_HIGH_WATER_BYTES,
  SEND_LOW_WATER_BYTES,
} from './rpc-session.js';
export {
  backoffDelayMs,
  LEDGER_TX_TIMEOUT_MS,
  type LedgerTxResult,
  RECONNECT_INITIAL_DELAY_MS,
  RECONNECT_MAX_DELAY_MS,
  SignalingClient,
  type SignalingClientOptions,
  type SignalingEvents,
  type SignalingState,
  type WebSocketConstructor,
  type WebSocketLike,
  type Welcome,
} from './signaling-client.js';
export { DATA_CHANNEL_LABEL, WebRtcConnection, type WebRtcConnectionOptions } from './webrtc-link.js';
export { createWebRtcLinkPair, type WebRtcLinkPair } from './webrtc-pair.js';
