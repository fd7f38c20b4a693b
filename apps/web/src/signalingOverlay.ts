/**
 * What both Peer placements share on the page: the overlay of the signaling
 * connection's state (and "server unreachable") on the Peer's snapshots,
 * since the Peer itself only knows whether it has a network at all.
 */
import type { LinkInfo, Observable, SignalingState } from '@peerbench/mesh';
import type { PeerError, PeerSnapshot } from '@peerbench/peer';
import type { HostedPeer } from '@peerbench/peer/worker';
import type { PeerThread } from './peerConfig.js';
import type { PeerHandle } from './runtime.js';

const CONNECTION_OF: Record<SignalingState, PeerSnapshot['connection']> = {
  idle: 'idle',
  connecting: 'connecting',
  connected: 'connected',
  reconnecting: 'reconnecting',
  closed: 'closed',
};

/** What both Peer placements give before the signaling overlay: the surface hostPeer drives. */
export type PeerSource = HostedPeer;

/** The mesh's link status (PeerMesh satisfies it): read on every snapshot, and a change emits one. */
export interface LinkSource {
  links(): LinkInfo[];
  on(event: 'link', cb: (info: LinkInfo) => void): () => void;
}

/**
 * The app's PeerHandle: `source`'s snapshots with the signaling state (and
 * "server unreachable") overlaid, and the links of `mesh`.
 */
export function withSignalingOverlay(
  source: PeerSource,
  connection: Observable<SignalingState>,
  serverUrl: string,
  thread: PeerThread,
  stop: () => Promise<void>,
  mesh?: LinkSource,
): PeerHandle {
  let signalingState: SignalingState = connection.get();
  const listeners = new Set<(s: PeerSnapshot) => void>();
  const overlay = (s: PeerSnapshot): PeerSnapshot => {
    const connection = signalingState === 'idle' ? s.connection : CONNECTION_OF[signalingState];
    let error: PeerError | null = s.error;
    // 'reconnecting' is the signaling client's state after a failed or dropped connection.
    if (!error && signalingState === 'reconnecting') {
      error = {
        code: 'server-unreachable',
        message: `Cannot reach the network's server at ${serverUrl}. Retrying by itself; training goes on with peers already connected.`,
      };
    }
    return connection === s.connection && error === s.error ? s : { ...s, connection, error };
  };
  let current = overlay(source.getSnapshot());
  const emit = () => {
    current = overlay(source.getSnapshot());
    for (const cb of listeners) cb(current);
  };
  // Both subscriptions live as long as the page's handle: the source and the connection end with it.
  source.subscribe(emit);
  connection.subscribe((st) => {
    signalingState = st;
    emit();
  });
  mesh?.on('link', emit);
  return {
    thread,
    start: () => source.start(),
    stop,
    pause: () => source.pause(),
    resume: () => source.resume(),
    getSnapshot: () => current,
    ...(mesh ? { links: () => mesh.links() } : {}),
    subscribe: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
}
