/**
 * Assembles the browser Peer of packages/peer: the MNIST task with a private
 * class mix derived from the peer's id (so peers differ and have something to
 * learn from each other), the model kept in IndexedDB per identity, the
 * backend choice (with the .wasm files this app serves), the WebRTC mesh and
 * the ledger through the signaling server. The returned handle overlays the
 * signaling connection's state onto the Peer's snapshots, since the Peer
 * itself only knows whether it has a network at all.
 */

import {
  type GenesisConfig,
  type Identity,
  type LedgerTransport,
  parseGenesis,
  RemoteChain,
} from '@peerbench/ledger';
import {
  IdbStorage,
  LedgerChainClient,
  MeshExpertNetwork,
  MnistTask,
  Peer,
  type PeerError,
  PeerMesh,
  type PeerSnapshot,
  type SignalingState,
  skewedClassMix,
} from '@peerbench/peer';
import { env } from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { PeerFactory, PeerHandle, PeerLaunchOptions } from './runtime.js';

// tfjs-backend-wasm starts its multi-threaded build in workers made from the
// source text of a bundled function; after minification that text refers to
// names that only exist in the main bundle ("e is not defined" in every
// worker). The single-threaded SIMD build has no such step.
env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);

/** Share of a peer's private shard on its three favourite digits. */
export const FAVOURITE_DIGITS_SHARE = 0.8;
/** Pause between training steps: hands the main thread back to rendering and to serving other peers. */
export const STEP_INTERVAL_MS = 50;
/**
 * Examples per step. Training runs on the main thread (WebRTC is not
 * available in workers); a step of 32 MNIST examples takes ~70 ms on WASM
 * here, one long task per step. 16 keeps most steps under the 50 ms
 * long-task line so the page stays responsive.
 */
export const BATCH_SIZE = 16;
/** Held-out evaluation (500 examples) is the longest main-thread task; every 100 steps is enough for the chart. */
export const EVAL_EVERY_STEPS = 100;

/** Three distinct digits from the first bytes of the peer id (stable across reloads). */
export function favouriteDigits(peerId: string): number[] {
  const out: number[] = [];
  for (let i = 0; out.length < 3 && i + 2 <= peerId.length; i += 2) {
    const d = Number.parseInt(peerId.slice(i, i + 2), 16) % 10;
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

function seedOf(peerId: string): number {
  return Number.parseInt(peerId.slice(0, 8), 16) >>> 0;
}

/** http(s)://host of the signaling server, for its /ledger routes. */
export function httpBaseOf(signalingUrl: string): string {
  const url = new URL(signalingUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  return url.origin;
}

async function fetchGenesis(signalingUrl: string): Promise<GenesisConfig> {
  const res = await fetch(`${httpBaseOf(signalingUrl)}/ledger/genesis`, { cache: 'no-store' });
  if (!res.ok) throw new Error(`the server has no ledger (GET /ledger/genesis answered ${res.status})`);
  return parseGenesis(await res.json());
}

const CONNECTION_OF: Record<SignalingState, PeerSnapshot['connection']> = {
  idle: 'idle',
  connecting: 'connecting',
  connected: 'connected',
  reconnecting: 'reconnecting',
  closed: 'closed',
};

export const createPeer: PeerFactory = async (options: PeerLaunchOptions): Promise<PeerHandle> => {
  const { identity, serverUrl } = options;
  const mesh = new PeerMesh({ signalingUrl: serverUrl, room: options.room, identity });
  let signalingState: SignalingState = 'idle';

  const peer = await Peer.create({
    identity,
    room: options.room,
    task: () =>
      MnistTask.create({
        classMix: skewedClassMix(favouriteDigits(identity.peerId), FAVOURITE_DIGITS_SHARE),
        seed: seedOf(identity.peerId),
      }),
    // One database per identity: two tabs of one browser never overwrite each other's model.
    storage: new IdbStorage(`peerbench-peer-${identity.peerId.slice(0, 16)}`, 'peer'),
    backend: { ...(options.backend ? { force: options.backend } : {}), wasmPaths: options.wasmPaths },
    // Joins the room; waits (retrying with backoff) until the server answers.
    network: async (id: Identity) => {
      await mesh.start();
      return new MeshExpertNetwork(mesh, id.peerId);
    },
    chain: async (id: Identity) => {
      const transport: LedgerTransport = {
        sendTx: (tx) => mesh.signaling.sendLedgerTx(tx),
        subscribe: (from, onBlock) => {
          const off = mesh.signaling.on('ledger-block', (b) => onBlock(b));
          mesh.signaling.subscribeLedger(from);
          return off;
        },
      };
      const chain = new RemoteChain({ transport, genesis: await fetchGenesis(serverUrl) });
      chain.start();
      return new LedgerChainClient(chain, id);
    },
    stepIntervalMs: STEP_INTERVAL_MS,
    step: { batchSize: BATCH_SIZE },
    evalEverySteps: EVAL_EVERY_STEPS,
  });

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
  let current = overlay(peer.getSnapshot());
  const emit = () => {
    current = overlay(peer.getSnapshot());
    for (const cb of listeners) cb(current);
  };
  peer.subscribe(emit);
  mesh.signaling.on('state', (st) => {
    signalingState = st;
    emit();
  });

  return {
    start: () => peer.start(),
    stop: async () => {
      await peer.stop();
      await mesh.stop();
    },
    pause: () => peer.pause(),
    resume: () => peer.resume(),
    getSnapshot: () => current,
    subscribe: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
};
