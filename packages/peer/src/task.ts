/**
 * A peer's private dataset D_i and loss L_i (§1.1), behind an interface so the
 * runtime never knows which task it trains: MNIST digits today, next-character
 * prediction tomorrow. Every task is classification over `numClasses` with a
 * fixed-width float input; the runtime owns the model and the cross-entropy.
 */

export interface Batch {
  /** Row-major [size, inputSize]. */
  x: Float32Array;
  /** Row-major one-hot (or soft) targets [size, numClasses]. */
  y: Float32Array;
  size: number;
}

export interface Task {
  /** Short id, e.g. 'mnist'. Peers that share a network must agree on inputSize (they answer each other's x). */
  readonly name: string;
  readonly inputSize: number;
  readonly numClasses: number;
  /** Examples in this peer's private training shard. */
  readonly shardSize: number;
  /** A training batch drawn from the private shard (with replacement across batches, shuffled per epoch). */
  nextBatch(batchSize: number): Batch;
  /** The held-out evaluation set (balanced over classes), the same on every call. */
  evalSet(): Batch;
  /**
   * A validation slice of D_i: drawn like the private shard (same class mix)
   * and never trained on, the same on every call. The scores of eq 3 are
   * measured on it (DESIGN.md step 6). Optional: without it the peer scores
   * on its training batches.
   */
  validationSet?(): Batch;
}
