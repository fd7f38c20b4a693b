/**
 * The one way in: `joinNetwork` joins a room on a signaling server and gives
 * back everything a participant needs from the network: the expert network
 * (WebRTC links and tensor RPC), the ledger's transport (over the same
 * signaling socket), the connection state as an observable, and `stop()`,
 * which undoes all of it. Joining starts at once and retries with backoff
 * until the server answers; `joined` resolves on the first welcome.
 */
import type { Identity } from '@peerbench/protocol';
import { Emitter } from './emitter.js';
import { type LedgerTransport, signalingLedgerTransport } from './ledger-channel.js';
import { MeshExpertNetwork } from './mesh-network.js';
import type { ExpertNetwork } from './network.js';
import { PeerMesh, type PeerMeshOptions } from './peer-mesh.js';
import type { ServerUrls } from './server-urls.js';
import type { SignalingState } from './signaling-client.js';
import type { WebSocketConstructor } from './websocket.js';

/** A value that changes over time: read it now, or hear every change. */
export interface Observable<T> {
  get(): T;
  /** `cb` runs on every change (not with the current value); returns unsubscribe. */
  subscribe(cb: (value: T) => void): () => void;
}

export interface JoinNetworkOptions {
  /**
   * One server URL (a single server, or instances behind a balancer), or
   * clustered instances as a list or comma-separated string: when the
   * connection drops the client rejoins on the next one and the ledger
   * subscription resumes after the last block received.
   */
  signalingUrl: ServerUrls;
  room: string;
  identity: Identity;
  /** WebRTC implementation for Node (`@roamhq/wrtc`); browsers use their own. */
  wrtc?: unknown;
  /** WebSocket implementation for Node 20 (the `ws` package); browsers and Node ≥ 22 have one. */
  WebSocket?: WebSocketConstructor;
  /** Tuning passed to PeerMesh (maxPeers, timeouts, backoff). */
  mesh?: Omit<PeerMeshOptions, 'signalingUrl' | 'room' | 'identity' | 'wrtc' | 'WebSocket'>;
}

export interface NetworkSession {
  /** This peer's id (its public key in hex). */
  readonly peerId: string;
  /** Forward/backward to other peers' experts, and serving this one's. */
  readonly experts: ExpertNetwork;
  /** The ledger's transport over the signaling socket (for packages/ledger's RemoteChain). */
  readonly ledger: LedgerTransport;
  /** The signaling connection: idle → connecting → connected ⇄ reconnecting → closed. */
  readonly connection: Observable<SignalingState>;
  /** Resolves once the server has welcomed this peer; rejects if stopped or replaced first. */
  readonly joined: Promise<void>;
  /** The mesh underneath, for link statistics and raw RPC. */
  readonly mesh: PeerMesh;
  /** Leaves the room, closes every link, ends ledger subscriptions and listeners; idempotent. */
  stop(): Promise<void>;
}

export function joinNetwork(opts: JoinNetworkOptions): NetworkSession {
  const mesh = new PeerMesh({
    ...opts.mesh,
    signalingUrl: opts.signalingUrl,
    room: opts.room,
    identity: opts.identity,
    ...(opts.wrtc !== undefined ? { wrtc: opts.wrtc } : {}),
    ...(opts.WebSocket ? { WebSocket: opts.WebSocket } : {}),
  });
  const experts = new MeshExpertNetwork(mesh, opts.identity.peerId);
  const states = new Emitter<{ state: [SignalingState] }>();
  const offs: Array<() => void> = [mesh.signaling.on('state', (st) => states.emit('state', st))];
  const transport = signalingLedgerTransport(mesh.signaling);
  const ledgerSubscriptions = new Set<() => void>();
  const ledger: LedgerTransport = {
    sendTx: (tx) => transport.sendTx(tx),
    subscribe: (fromHeight, onBlock) => {
      const off = transport.subscribe(fromHeight, onBlock);
      ledgerSubscriptions.add(off);
      return () => {
        ledgerSubscriptions.delete(off);
        off();
      };
    },
  };
  let stopping: Promise<void> | undefined;
  const joined = mesh.start();
  // A caller that never awaits `joined` must not get an unhandled rejection when it stops early.
  joined.catch(() => undefined);
  return {
    peerId: opts.identity.peerId,
    experts,
    ledger,
    connection: {
      get: () => mesh.signaling.state,
      subscribe: (cb) => states.on('state', cb),
    },
    joined,
    mesh,
    stop: () => {
      stopping ??= (async () => {
        for (const off of ledgerSubscriptions) off();
        ledgerSubscriptions.clear();
        await mesh.stop();
        // After the mesh stopped, so subscribers hear 'closed'.
        for (const off of offs.splice(0)) off();
      })();
      return stopping;
    },
  };
}
