/** PeerMesh's per-peer bookkeeping and the signaling client options it derives (peer-mesh.ts). */
import type { PeerMeshOptions } from './peer-mesh-options.js';
import type { RpcSession } from './rpc-session.js';
import type { SignalingClientOptions } from './signaling-client.js';
import type { WebRtcConnection } from './webrtc-link.js';

export interface PeerEntry {
  connection: WebRtcConnection | undefined;
  session: RpcSession | undefined;
  /** The offerer's next offer, or the answerer's next request for one. */
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  connectTimer: ReturnType<typeof setTimeout> | undefined;
  attempts: number;
  /** The connection's TURN server refused its credentials (401). */
  turnRefused: boolean;
}

export function newPeerEntry(): PeerEntry {
  return {
    connection: undefined,
    session: undefined,
    retryTimer: undefined,
    connectTimer: undefined,
    attempts: 0,
    turnRefused: false,
  };
}

export function signalingClientOptions(opts: PeerMeshOptions): SignalingClientOptions {
  const out: SignalingClientOptions = { url: opts.signalingUrl, room: opts.room, identity: opts.identity };
  if (opts.WebSocket) out.WebSocket = opts.WebSocket;
  if (opts.reconnectInitialDelayMs !== undefined) out.reconnectInitialDelayMs = opts.reconnectInitialDelayMs;
  if (opts.reconnectMaxDelayMs !== undefined) out.reconnectMaxDelayMs = opts.reconnectMaxDelayMs;
  if (opts.signalingKeepalive !== undefined) out.keepalive = opts.signalingKeepalive;
  return out;
}

/** 'open' (usable), 'connecting' (an RTCPeerConnection exists) or 'none'. */
export function linkStateOf(e: PeerEntry | undefined): 'open' | 'connecting' | 'none' {
  return e?.session?.isOpen ? 'open' : e?.connection ? 'connecting' : 'none';
}
