/** SignalingClient's options, events, states and close codes (signaling-client.ts). */
import type { IceServer, Identity, PeerInfo, SignalData } from '@peerbench/protocol';
import type { LedgerTxResult } from './ledger-channel.js';
import type { ServerUrls } from './server-urls.js';
import type { KeepaliveTimings } from './signaling-keepalive.js';
import type { ReconnectTimings } from './signaling-reconnect.js';
import type { WebSocketConstructor } from './websocket.js';

export { RECONNECT_INITIAL_DELAY_MS, RECONNECT_MAX_DELAY_MS } from './signaling-reconnect.js';

/** Server close code: a newer connection with the same identity took this one's place. */
export const CLOSE_REPLACED = 4000;
/** Server close code: too many invalid or rate-limited messages. */
export const CLOSE_POLICY_VIOLATION = 1008;
/** What the client closes a socket with when the keepalive found it dead (it does not wait for the handshake). */
export const CLOSE_KEEPALIVE_TIMEOUT = 4001;
export type SignalingState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface Welcome {
  peerId: string;
  room: string;
  /** A random sample of the other members (all of them in a small room). */
  peers: PeerInfo[];
  /** Members of the room, this peer included. */
  roomSize: number;
  iceServers: IceServer[];
  heartbeatIntervalMs: number;
}

export type SignalingEvents = {
  state: [SignalingState];
  welcome: [Welcome];
  /** A fresh sample of the room (the answer to `requestSample`). */
  sample: [{ peers: PeerInfo[]; roomSize: number }];
  'peer-joined': [PeerInfo];
  'peer-left': [string];
  signal: [{ from: string; data: SignalData }];
  'ledger-block': [unknown];
  'ledger-tx-result': [{ requestId: string } & LedgerTxResult];
  /** Fresh ICE servers (the answer to `refreshIceServers`); `iceServers()` returns them from now on. */
  'ice-servers': [IceServer[]];
  /**
   * Coded problems: the server's `error` messages (their codes), a message
   * from the server that did not validate (`invalid-message`,
   * `message-too-large`), `connect-failed`, `replaced`, `internal`, and
   * `keepalive-timeout` (the socket was found dead and is being replaced).
   */
  error: [{ code: string; message: string }];
};

export interface SignalingClientOptions extends ReconnectTimings {
  /**
   * The server, or clustered instances of one network (a list, or one
   * comma-separated string): the client starts on the first and, whenever its
   * connection drops or cannot be opened, tries the next one (round robin,
   * with the reconnect backoff), rejoins its room there and renews its ledger
   * subscription from the block after the last one it received.
   */
  url: ServerUrls;
  room: string;
  identity: Identity;
  /** WebSocket implementation; default the global one (browsers, Node ≥ 22). In Node 20 pass `ws`'s. */
  WebSocket?: WebSocketConstructor;
  ledgerTxTimeoutMs?: number;
  /**
   * The socket's liveness check (signaling-keepalive.ts): `ping` every
   * pingIntervalMs, dead when nothing is heard within pongTimeoutMs of one.
   * `false` turns it off (only for tests against a scripted server that
   * never answers).
   */
  keepalive?: KeepaliveTimings | false;
}
