/**
 * Peer j as an expert for others (§1.5-1.7). It answers `forward` with its
 * encoder's representation f_j(x), scaled by its competitive mask for the
 * caller (eq 7), and applies the gradient a caller sends back in `backward`
 * to that same encoder. Depth 1 only: the server runs the local encoder and
 * nothing else, it never queries further into the network (§1.8, Fig 3).
 */
import * as tf from '@tensorflow/tfjs';
import type { Mlp } from './model.js';
import {
  ExpertError,
  type ExpertHandlers,
  invalidTensorReason,
  MAX_FORWARD_ROWS,
  type WireTensor,
} from './network.js';

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
}

export const DEFAULT_EXPERT_SERVER_OPTIONS: ExpertServerOptions = {
  acceptRemoteGradients: true,
  remoteGradMaxNorm: 1,
  remoteLearningRate: 0.002,
  remoteOptimizer: 'adam',
  savedInputTtlMs: 30_000,
  maxSavedInputs: 256,
  maxSavedInputBytes: 32 * 1024 * 1024,
};

export interface ExpertServerStats {
  forwardsServed: number;
  backwardsApplied: number;
  backwardsRefused: number;
  /** Requests rejected as malformed (bad shape, NaN, unknown request id). */
  invalidRequests: number;
}

interface SavedInput {
  x: Float32Array;
  rows: number;
  mask: number;
  expiresAt: number;
}

export class ExpertServer implements ExpertHandlers {
  readonly stats: ExpertServerStats = {
    forwardsServed: 0,
    backwardsApplied: 0,
    backwardsRefused: 0,
    invalidRequests: 0,
  };
  private readonly saved = new Map<string, SavedInput>();
  private savedBytes = 0;
  private readonly optimizer: tf.Optimizer;

  constructor(
    private readonly encoder: Mlp,
    /** M_ij for a caller peer id, from the latest block (1 before there is one). */
    private readonly maskFor: (callerPeerId: string) => number,
    private readonly opts: ExpertServerOptions = DEFAULT_EXPERT_SERVER_OPTIONS,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.optimizer =
      (opts.remoteOptimizer ?? 'adam') === 'adam'
        ? tf.train.adam(opts.remoteLearningRate)
        : tf.train.sgd(opts.remoteLearningRate);
  }

  get savedInputs(): number {
    return this.saved.size;
  }

  /** Bytes of forward inputs waiting for their backward. */
  get savedInputBytes(): number {
    return this.savedBytes;
  }

  private drop(key: string): void {
    const s = this.saved.get(key);
    if (!s) return;
    this.savedBytes -= s.x.byteLength;
    this.saved.delete(key);
  }

  private invalid(message: string): never {
    this.stats.invalidRequests++;
    throw new ExpertError('invalid', message);
  }

  private evict(): void {
    const t = this.now();
    for (const [key, s] of this.saved) if (s.expiresAt <= t) this.drop(key);
    const maxBytes = this.opts.maxSavedInputBytes ?? DEFAULT_EXPERT_SERVER_OPTIONS.maxSavedInputBytes!;
    while (this.saved.size > this.opts.maxSavedInputs || this.savedBytes > maxBytes) {
      const oldest = this.saved.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
  }

  async forward(from: string, requestId: string, x: WireTensor): Promise<WireTensor> {
    const reason = invalidTensorReason(x, [null, this.encoder.inputSize]);
    if (reason) this.invalid(`forward input: ${reason}`);
    const rows = x.shape[0]!;
    if (rows === 0 || rows > MAX_FORWARD_ROWS) this.invalid(`forward batch of ${rows} rows`);
    const mask = this.maskFor(from);
    const answer = tf.tidy(() =>
      tf.mul(this.encoder.apply(tf.tensor2d(x.data, [rows, this.encoder.inputSize])), mask),
    );
    let out: Float32Array;
    try {
      // Asynchronous: serving must not stall the device (or, on WebGPU, lose it: issue 19).
      out = new Float32Array((await answer.data()) as Float32Array);
    } finally {
      answer.dispose();
    }
    this.evict();
    const key = `${from}\u0000${requestId}`;
    this.drop(key); // a repeated request id replaces its input, it is not counted twice
    this.savedBytes += x.data.byteLength;
    this.saved.set(key, {
      x: x.data,
      rows,
      mask,
      expiresAt: this.now() + this.opts.savedInputTtlMs,
    });
    this.evict();
    this.stats.forwardsServed++;
    return { shape: [rows, this.encoder.outputSize], data: out };
  }

  async backward(from: string, requestId: string, grad: WireTensor): Promise<void> {
    if (!this.opts.acceptRemoteGradients) {
      this.stats.backwardsRefused++;
      throw new ExpertError('rejected', 'this peer does not accept remote gradients');
    }
    this.evict();
    const key = `${from}\u0000${requestId}`;
    const saved = this.saved.get(key);
    if (!saved) this.invalid(`no saved forward input for request ${requestId}`);
    const reason = invalidTensorReason(grad, [saved.rows, this.encoder.outputSize]);
    if (reason) this.invalid(`backward gradient: ${reason}`);
    this.drop(key);
    tf.tidy(() => {
      // The caller differentiated its loss w.r.t. the answer a = M·f(x), so
      // ∂L/∂f = M·∂L/∂a. Clip that to bound any single caller's influence.
      const g = clipByNorm(
        tf.mul(tf.tensor2d(grad.data, [saved.rows, this.encoder.outputSize]), saved.mask),
        this.opts.remoteGradMaxNorm,
      );
      const x = tf.tensor2d(saved.x, [saved.rows, this.encoder.inputSize]);
      const vars = this.encoder.variables();
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(this.encoder.apply(x), g)) as tf.Scalar, vars);
      this.optimizer.applyGradients(grads);
    });
    this.stats.backwardsApplied++;
  }

  dispose(): void {
    this.saved.clear();
    this.savedBytes = 0;
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
