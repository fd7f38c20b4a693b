/**
 * Messages between the test process and a training agent (train-agent.ts):
 * a real Peer (@peerbench/peer, tfjs WASM) on the real network stack
 * (`joinNetwork` from @peerbench/mesh: PeerMesh over wrtc, the ledger over the
 * signaling socket, RemoteChain), inside a lab host. The agent runs the
 * training loop itself so that every step is recorded and sent back.
 */
import type { ModelOptions, PeerStats, StepOptions } from '@peerbench/peer';
import type { AgentLifecycleMessage, AgentStop, PeerAgentMessage } from './agent-child.js';

export interface TrainAgentStart {
  type: 'start';
  signalingUrl: string;
  room: string;
  /** Seed of the model's weights, gate noise and the private shard's draw. */
  seed: number;
  /** The three digits that make up most of this peer's private shard. */
  favourites: number[];
  /** Share of the shard on `favourites` (the rest uniform). */
  favouriteShare: number;
  shardSize: number;
  model: Partial<ModelOptions>;
  step: Partial<StepOptions>;
  /** tfjs backend of the agent (WASM: ~5× the pure-JS CPU one). */
  backend: 'wasm' | 'cpu';
  /** Held-out evaluation every n steps (0 = never); recorded in the step's record. */
  evalEverySteps: number;
}

/** One training step as the agent saw it. Times are epoch ms (Date.now(): one clock for every namespace). */
export interface StepRecord {
  /** The trainer's step number (1-based). */
  step: number;
  startMs: number;
  endMs: number;
  /** NaN when the step threw (then `error` says why). */
  loss: number;
  error?: string;
  /** Peer ids whose slot was served by a distilled stand-in in this step. */
  standIns: string[];
  /** Peer ids whose own answer was used. */
  remote: string[];
  /** Forwards of this step that missed k_min + grace / the timeout, or failed outright. */
  late: number;
  failedCalls: number;
  /** tf.memory().numTensors after the step. */
  numTensors: number;
  /** Held-out accuracy when this step evaluated. */
  accuracy?: number;
  /** Peers the expert network could reach when the step ended. */
  online: number;
}

export type ToTrainAgent =
  | TrainAgentStart
  /** Train until untilMs (epoch ms) or maxSteps steps, pausing pauseMs between steps; answered by `done`. */
  | { type: 'run'; untilMs: number; pauseMs: number; maxSteps?: number }
  | AgentStop;

export type FromTrainAgent =
  | AgentLifecycleMessage
  | PeerAgentMessage
  /** The ledger gave this peer a uid. */
  | { type: 'registered'; uid: number; atMs: number }
  | { type: 'step'; record: StepRecord }
  | { type: 'done'; steps: number; stats: PeerStats | null; uid: number | null; height: number };
