/**
 * The Peer this app runs, as options, shared by both places it can run: a
 * dedicated worker (the default; peer.worker.ts) and the page's main thread
 * (`?worker=0`, or when the worker cannot start). The MNIST task with a
 * private class mix derived from the peer's id (so peers differ and have
 * something to learn from each other), the model kept in IndexedDB per
 * identity, the backend choice (with the .wasm files this app serves), and
 * the training cadence, which depends on where the Peer runs.
 */

import type { ExpertNetwork } from '@peerbench/mesh';
import {
  type BackendName,
  type ChainClient,
  DEFAULT_MODEL_OPTIONS,
  IdbStorage,
  MnistTask,
  type PeerOptions,
  skewedClassMix,
  withNoiseAnswers,
} from '@peerbench/peer';
import type { Identity } from '@peerbench/protocol';
import type { TestAdversary } from './config.js';

/** Where the Peer (tfjs training, expert serving, scoring, ledger client) runs. */
export type PeerThread = 'worker' | 'main';

/** Share of a peer's private shard on its three favourite digits. */
export const FAVOURITE_DIGITS_SHARE = 0.8;

/**
 * Per-backend time of the start-up trial (first step included; a started
 * step still finishes). On this 2-core machine the four trials take ~10 s
 * with the software WebGPU/WebGL adapters; on a real GPU far less.
 */
export const BACKEND_TRIAL_BUDGET_MS = 2500;

/** How often and how much a peer trains, per thread. */
export interface TrainingCadence {
  /** Pause between training steps. */
  stepIntervalMs: number;
  /** Examples per step. */
  batchSize: number;
  /** Held-out evaluation (500 examples) every this many steps. */
  evalEverySteps: number;
}

export const CADENCE: Readonly<Record<PeerThread, TrainingCadence>> = {
  /**
   * In a worker a step never blocks the page, so the batch is the runtime's
   * default (32) and evaluation can run twice as often. The loop there is the
   * worker's own, paced by step duration (pacedPeer.ts), so `stepIntervalMs`
   * is not used.
   */
  worker: { stepIntervalMs: 0, batchSize: 32, evalEverySteps: 50 },
  /**
   * On the main thread every step is one long synchronous task (~70 ms for 32
   * examples on WASM here); 16 examples keep most steps under the 50 ms
   * long-task line, and the 50 ms pause hands the thread back to rendering.
   */
  main: { stepIntervalMs: 50, batchSize: 16, evalEverySteps: 100 },
};

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

export interface AppPeerSettings {
  identity: Identity;
  room: string;
  backend: BackendName | null;
  /** Choose the backend by a trial of this peer's step on each one (else the fixed order). */
  backendTrial: boolean;
  /** URL prefix where tfjs-backend-wasm's .wasm files are served. */
  wasmPaths: string;
  thread: PeerThread;
  /** D: most links, chosen by the neighbour policy; the model gets one gate slot per link (and self). */
  degree: number;
  network: (id: Identity) => Promise<ExpertNetwork>;
  chain: (id: Identity) => Promise<ChainClient>;
  /** TEST ONLY (`?adversary=noise`): answer the others with noise; null: honest. */
  testAdversary: TestAdversary | null;
}

export function appPeerOptions(s: AppPeerSettings): PeerOptions {
  const cadence = CADENCE[s.thread];
  return {
    identity: s.identity,
    room: s.room,
    task: () =>
      MnistTask.create({
        classMix: skewedClassMix(favouriteDigits(s.identity.peerId), FAVOURITE_DIGITS_SHARE),
        seed: seedOf(s.identity.peerId),
      }),
    // One database per identity: two tabs of one browser never overwrite each other's model.
    storage: new IdbStorage(`peerbench-peer-${s.identity.peerId.slice(0, 16)}`, 'peer'),
    backend: { ...(s.backend ? { force: s.backend } : {}), wasmPaths: s.wasmPaths },
    backendTrial: s.backendTrial ? { budgetMs: BACKEND_TRIAL_BUDGET_MS } : false,
    network:
      s.testAdversary === 'noise'
        ? // TEST ONLY: the same Peer, but every expert call from others gets seeded noise of the model's width.
          async (id) =>
            withNoiseAnswers(await s.network(id), DEFAULT_MODEL_OPTIONS.representationSize, seedOf(id.peerId))
        : s.network,
    chain: s.chain,
    // One gate slot per neighbour and one for self (the swarm's rule with --degree); a model saved
    // with another slot count is not restored (persistence.ts checks the shapes) and starts afresh.
    model: { maxExperts: s.degree + 1 },
    stepIntervalMs: cadence.stepIntervalMs,
    step: { batchSize: cadence.batchSize },
    evalEverySteps: cadence.evalEverySteps,
    // In the worker PacedPeer runs the loop (rest proportional to step time); on the page the Peer's own.
    autoRun: s.thread === 'main',
  };
}
