/**
 * How a Peer is configured (`Peer.create(opts)`): its task, identity,
 * storage, network and ledger (each may be a factory given the identity),
 * and the periods and switches of its loop, scoring and weight submission.
 */
import type { ExpertNetwork } from '@peerbench/mesh';
import type { Identity } from '@peerbench/protocol';
import type { SelectBackendOptions } from './backend.js';
import type { ChainClient, ChainState } from './chain.js';
import type { ExpertServerOptions } from './expert-server.js';
import type { NeighbourSettings } from './neighbourhood-runner.js';
import type { ScoreRouting } from './removal-cost.js';
import type { PeerStorage } from './storage.js';
import type { Task } from './task.js';
import type { ModelOptions, StepOptions } from './trainer-options.js';

/** A value, or a function of the peer's identity that makes it (for transports that sign in with it). */
export type Factory<T> = T | ((identity: Identity) => T | Promise<T>);

/** What `PeerOptions.targetRow` is given once per block. */
export interface TargetRowContext {
  /** The latest chain state (the block that triggered the submission). */
  state: ChainState;
  /** This peer's uid. */
  uid: number;
  /** The scorer's honest target row over all uids (on the simplex). */
  scored: Float64Array;
}

export interface PeerOptions {
  /** The private dataset and loss (or a factory, e.g. `() => MnistTask.create({...})`). */
  task: Task | (() => Promise<Task>);
  /** Identity to use; else the one in storage; else a new one (saved to storage). */
  identity?: Identity;
  /** Where identity, weights and history persist (IdbStorage, FileStorage, MemoryStorage). None: nothing persists. */
  storage?: PeerStorage | null;
  /** How to reach other peers (or a factory given the identity, for transports that sign in with it). None: train alone. */
  network?: Factory<ExpertNetwork> | null;
  /** The ledger (or a factory given the identity). None: no masks, no weight txs. */
  chain?: Factory<ChainClient> | null;
  /** Room name shown in the snapshot. Default 'default'. */
  room?: string;
  /** tfjs backend selection (force, wasm paths); false leaves tfjs as it is. Default {}. */
  backend?: SelectBackendOptions | false;
  /**
   * Choose the backend by a short trial of this peer's own training step on
   * each one (backend-trial.ts) instead of the fixed order. Ignored when the
   * backend is forced or `backend` is false. Default false (the app and the
   * swarm CLI turn it on).
   */
  backendTrial?: boolean | { timedSteps?: number; budgetMs?: number };
  /** Model shape and learning rates (see ModelOptions). */
  model?: Partial<ModelOptions>;
  /** Batch size, k_min, grace, timeouts, wire dtype (see StepOptions). */
  step?: Partial<StepOptions>;
  /** Expert server: accept remote gradients, their clip norm and learning rate, saved-input bounds. */
  server?: Partial<ExpertServerOptions>;
  /** T of eq (8), the temperature of the competitive mask, relative to the mean stake (see MaskTable). Default 1. */
  maskTemperature?: number;
  /** Held-out evaluation every this many steps (0 = never). Default 25. */
  evalEverySteps?: number;
  /** Save weights and history every this many steps (0 = only on stop). Default 100. */
  saveEverySteps?: number;
  /** Pause between steps, in ms (yields to the event loop and to serving). Default 0. */
  stepIntervalMs?: number;
  /** Points kept in lossHistory / blockHistory. Default 2000. */
  historyLimit?: number;
  /** Latency probe period per connected peer, in ms (0 = off). Default 5000. */
  pingEveryMs?: number;
  /** Submit a set-weights tx once per block. Default true. */
  submitWeights?: boolean;
  /**
   * The row to move towards each block instead of the scorer's `scored` row
   * (length = number of uids; projected onto the simplex; the step is still
   * bounded by ε). For adversaries (a weight copier) and experiments.
   */
  targetRow?: (ctx: TargetRowContext) => Float64Array;
  /**
   * Measure the removal costs on the validation slice of D_i every this many
   * steps (removal-cost.ts; 0 = never). Default 2. Only with the scorer's
   * 'validation' source and a task that has a validation slice.
   */
  scoreEverySteps?: number;
  /** Validation examples per scoring pass. Default 32. */
  scoreRows?: number;
  /**
   * How a scoring pass routes its draw (removal-cost.ts ScoreRouting). Default 'noisy': measured in
   * apps/swarm (8 peers, known-quality design, 3 seeds) Spearman(R, known order) 0.91 vs 0.74 with
   * 'clean', Spearman(R, ablation ideal) 0.54 vs 0.43 (docs/results/ranking-fidelity.md).
   */
  scoreRouting?: ScoreRouting;
  /**
   * The neighbour policy (issue 14), used when the network has a
   * `neighbourhood`: D, K blocks before the lowest is released, trial blocks,
   * the share of R in a neighbour's merit, the exploration seed.
   */
  neighbours?: NeighbourSettings;
  /** Run the training loop after start(); false = the caller drives `step()`. Default true. */
  autoRun?: boolean;
}
