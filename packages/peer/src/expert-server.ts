/**
 * Peer j as an expert for others (§1.5-1.7). It answers `forward` with its
 * representation f_j(x), scaled by its competitive mask for the
 * caller (eq 7), and applies the gradient a caller sends back in `backward`
 * to that same function. It never queries further into the network (§1.8,
 * Fig 3): what it answers with is a `ServedFunction` of local parts only —
 * the encoder (answerDepth 0) or the encoder composed with the distilled
 * student of G (answerDepth 1, composition.ts).
 */
import {
  ExpertError,
  type ExpertHandlers,
  invalidTensorReason,
  MAX_FORWARD_ROWS,
  type WireTensor,
} from '@peerbench/mesh';
import * as tf from '@tensorflow/tfjs';
import { CallerBudget } from './caller-budget.js';
import type { CallerInputSink } from './caller-inputs.js';
import type { ServedFunction } from './composition.js';

export interface ExpertServerOptions {
  /** Apply gradients that callers send back. A trustless peer sets false: backward is refused with 'rejected'. */
  acceptRemoteGradients: boolean;
  /** Remote gradients are clipped to this L2 norm before use. */
  remoteGradMaxNorm: number;
  /** Learning rate for remote gradients (their own optimiser, separate from the local one). */
  remoteLearningRate: number;
  /**
   * How remote gradients update the encoder. 'adam' (default): the caller's
   * ∂L/∂f is per-example small (a mean loss over the batch, then clipped), so
   * plain SGD at any sane rate barely moves the encoder and peers learn
   * nothing from serving each other; Adam's normalised steps let callers'
   * tasks shape the features. Measured in apps/swarm (8 peers, 300 steps):
   * B 9.2-10.2 with Adam (lr 0.002) vs 16.7-19.2 with SGD (lr 0.01) and 19.07
   * isolated. Relative weight between callers (their masks) survives, since
   * the moments are shared; the absolute scale does not, so a peer that does
   * not trust its callers sets `acceptRemoteGradients: false`.
   */
  remoteOptimizer?: 'adam' | 'sgd';
  /** How long a forward input is kept waiting for its backward, in ms. */
  savedInputTtlMs: number;
  /** At most this many forward inputs are kept (oldest dropped first). */
  maxSavedInputs: number;
  /**
   * At most this many bytes of forward inputs are kept (oldest dropped
   * first). Evaluation forwards (`evaluateLive`, up to MAX_FORWARD_ROWS rows
   * each) never get a backward; without a byte bound a swarm's ablation runs
   * would park hundreds of MB per expert until the TTL.
   */
  maxSavedInputBytes?: number;
  /**
   * Forward inputs kept per caller: a caller's flood evicts its own inputs,
   * never another caller's (one caller sending 256 one-row forwards used to
   * push an honest caller's input out, and its backward was refused).
   */
  maxSavedInputsPerCaller?: number;
  maxSavedInputBytesPerCaller?: number;
  /**
   * Backward steps one caller may apply per block (`newBlock()` refills it;
   * the Peer calls it on every head). Adam normalises each step, so neither
   * the clip nor the mask bounds how far N steps move the encoder: the count
   * is what bounds a caller. Honest callers send about one per local step
   * that routed to this expert.
   */
  maxBackwardsPerCallerPerBlock?: number;
  /** Without blocks (no ledger, or a stalled one) the backward budget refills after this long, in ms. */
  backwardBudgetWindowMs?: number;
  /**
   * Refuse gradients from callers that hold no stake on the ledger (needs the
   * server's `stakeOf`; without a ledger every caller is accepted).
   */
  requireCallerStake?: boolean;
}

export const DEFAULT_EXPERT_SERVER_OPTIONS: ExpertServerOptions = {
  acceptRemoteGradients: true,
  remoteGradMaxNorm: 1,
  remoteLearningRate: 0.002,
  remoteOptimizer: 'adam',
  savedInputTtlMs: 30_000,
  maxSavedInputs: 256,
  maxSavedInputBytes: 32 * 1024 * 1024,
  maxSavedInputsPerCaller: 64,
  maxSavedInputBytesPerCaller: 8 * 1024 * 1024,
  maxBackwardsPerCallerPerBlock: 16,
  backwardBudgetWindowMs: 2_000,
  requireCallerStake: true,
};

export interface ExpertServerStats {
  forwardsServed: number;
  backwardsApplied: number;
  /** Refused: remote gradients off, caller without stake, or its block budget spent. */
  backwardsRefused: number;
  /** Requests rejected as malformed (bad shape, NaN, unknown request id). */
  invalidRequests: number;
}

export class ExpertServer implements ExpertHandlers {
  readonly stats: ExpertServerStats = {
    forwardsServed: 0,
    backwardsApplied: 0,
    backwardsRefused: 0,
    invalidRequests: 0,
  };
  private readonly budget: CallerBudget;
  private readonly optimizer: tf.Optimizer;

  constructor(
    /** f_j: what this peer answers with; callers' gradients update its variables. */
    private readonly served: ServedFunction,
    /** M_ij for a caller peer id, from the latest block (1 before there is one). */
    private readonly maskFor: (callerPeerId: string) => number,
    private readonly opts: ExpertServerOptions = DEFAULT_EXPERT_SERVER_OPTIONS,
    private readonly now: () => number = () => Date.now(),
    /** A caller's stake on the ledger (null: no ledger, or not known yet). */
    private readonly stakeOf: (callerPeerId: string) => number | null = () => null,
    /** Keeps the inputs of the training forwards whose backward was accepted (caller-inputs.ts; issue 16). */
    private readonly inputSink: CallerInputSink | null = null,
  ) {
    const d = DEFAULT_EXPERT_SERVER_OPTIONS;
    this.budget = new CallerBudget(
      {
        maxSavedInputs: opts.maxSavedInputs,
        maxSavedInputBytes: opts.maxSavedInputBytes ?? d.maxSavedInputBytes!,
        maxSavedInputsPerCaller: opts.maxSavedInputsPerCaller ?? d.maxSavedInputsPerCaller!,
        maxSavedInputBytesPerCaller: opts.maxSavedInputBytesPerCaller ?? d.maxSavedInputBytesPerCaller!,
        maxBackwardsPerCallerPerBlock: opts.maxBackwardsPerCallerPerBlock ?? d.maxBackwardsPerCallerPerBlock!,
        budgetWindowMs: opts.backwardBudgetWindowMs ?? d.backwardBudgetWindowMs!,
      },
      now,
    );
    this.optimizer =
      (opts.remoteOptimizer ?? 'adam') === 'adam'
        ? tf.train.adam(opts.remoteLearningRate)
        : tf.train.sgd(opts.remoteLearningRate);
  }

  get savedInputs(): number {
    return this.budget.savedInputs;
  }

  /** Bytes of forward inputs waiting for their backward. */
  get savedInputBytes(): number {
    return this.budget.savedInputBytes;
  }

  /** A new block: every caller's backward budget is full again. */
  newBlock(): void {
    this.budget.newBlock();
  }

  /** A caller's link closed (issue 14): its saved inputs and backward budget go. */
  forgetCaller(peerId: string): void {
    this.budget.forget(peerId);
  }

  private invalid(message: string): never {
    this.stats.invalidRequests++;
    throw new ExpertError('invalid', message);
  }

  private refuse(message: string): never {
    this.stats.backwardsRefused++;
    throw new ExpertError('rejected', message);
  }

  async forward(from: string, requestId: string, x: WireTensor): Promise<WireTensor> {
    const reason = invalidTensorReason(x, [null, this.served.inputSize]);
    if (reason) this.invalid(`forward input: ${reason}`);
    const rows = x.shape[0]!;
    if (rows === 0 || rows > MAX_FORWARD_ROWS) this.invalid(`forward batch of ${rows} rows`);
    const mask = this.maskFor(from);
    const answer = tf.tidy(() =>
      tf.mul(this.served.apply(tf.tensor2d(x.data, [rows, this.served.inputSize])), mask),
    );
    let out: Float32Array;
    try {
      // Asynchronous: serving must not stall the device (or, on WebGPU, lose it: issue 19).
      out = new Float32Array((await answer.data()) as Float32Array);
    } finally {
      answer.dispose();
    }
    this.budget.save(from, requestId, {
      x: x.data,
      rows,
      mask,
      expiresAt: this.now() + this.opts.savedInputTtlMs,
    });
    this.stats.forwardsServed++;
    return { shape: [rows, this.served.outputSize], data: out };
  }

  async backward(from: string, requestId: string, grad: WireTensor): Promise<void> {
    if (!this.opts.acceptRemoteGradients) this.refuse('this peer does not accept remote gradients');
    const saved = this.budget.take(from, requestId);
    if (!saved) this.invalid(`no saved forward input for request ${requestId}`);
    const reason = invalidTensorReason(grad, [saved.rows, this.served.outputSize]);
    if (reason) this.invalid(`backward gradient: ${reason}`);
    const requireStake = this.opts.requireCallerStake ?? DEFAULT_EXPERT_SERVER_OPTIONS.requireCallerStake;
    const stake = this.stakeOf(from);
    if (requireStake && stake !== null && !(stake > 0))
      this.refuse('gradients from callers without stake are refused');
    if (!this.budget.tryBackward(from))
      this.refuse('this caller has spent its backward steps for this block');
    this.inputSink?.add(from, saved.x, saved.rows);
    tf.tidy(() => {
      // The caller differentiated its loss w.r.t. the answer a = M·f(x), so
      // ∂L/∂f = M·∂L/∂a. Clip that to bound any single caller's influence.
      const g = clipByNorm(
        tf.mul(tf.tensor2d(grad.data, [saved.rows, this.served.outputSize]), saved.mask),
        this.opts.remoteGradMaxNorm,
      );
      const x = tf.tensor2d(saved.x, [saved.rows, this.served.inputSize]);
      const vars = this.served.variables();
      const before = vars.map((v) => v.clone());
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(this.served.apply(x), g)) as tf.Scalar, vars);
      this.optimizer.applyGradients(grads);
      // Adam normalises the gradient, so scaling it by the mask changes
      // nothing; scale the update instead: θ ← θ₀ + M·(θ_adam − θ₀).
      if (saved.mask < 1)
        vars.forEach((v, i) => {
          const b = before[i]!;
          v.assign(tf.add(b, tf.mul(tf.sub(v, b), saved.mask)));
        });
    });
    this.stats.backwardsApplied++;
  }

  dispose(): void {
    this.budget.clear();
    this.optimizer.dispose();
  }
}

/** Scales t down so its L2 norm is at most maxNorm (never scales up). */
export function clipByNorm<T extends tf.Tensor>(t: T, maxNorm: number): T {
  return tf.tidy(() => {
    const norm = tf.norm(t);
    const scale = tf.minimum(1, tf.div(maxNorm, tf.maximum(norm, 1e-12)));
    return tf.mul(t, scale) as T;
  });
}
