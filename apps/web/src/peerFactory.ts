/**
 * Assembles the browser Peer of packages/peer: the MNIST task with a private
 * class mix derived from the peer's id (so peers differ and have something to
 * learn from each other), the model kept in IndexedDB per identity slot, the
 * backend choice (with the .wasm files this app serves), the WebRTC mesh and
 * the ledger through the signaling server.
 */
import type { Identity } from '@peerbench/ledger';
import { IdbStorage, MnistTask, Peer, skewedClassMix } from '@peerbench/peer';
import { env } from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { PeerFactory, PeerLaunchOptions } from './runtime.js';

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

export const createPeer: PeerFactory = async (options: PeerLaunchOptions) => {
  const { identity } = options;
  return Peer.create({
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
    network: null,
    chain: null,
    stepIntervalMs: STEP_INTERVAL_MS,
    step: { batchSize: BATCH_SIZE },
    // Held-out evaluation of 500 examples is the longest main-thread task; every 100 steps is enough for the chart.
    evalEverySteps: 100,
  });
};

export type { Identity };
