/**
 * The ledger as the swarm sees it: participants submit weight rows, a block
 * applies them (each row moved at most ε, section 1.3), computes R (eq 5) and
 * inflates S (eq 6). `MechanismChain` is the in-process state transition
 * built straight from packages/mechanism; a ledger-backed implementation
 * plugs in behind the same interface.
 */
import { boundRowStep, inflate, projectToSimplex, rank } from '@peerbench/mechanism';

export interface BlockState {
  height: number;
  n: number;
  /** Row-major n×n, row i = peer i's scores. */
  W: Float64Array;
  S: Float64Array;
  R: Float64Array;
  tau: number;
}

export interface SwarmChain {
  readonly n: number;
  /** Queue peer i's desired row for the next block (projected onto the simplex). */
  submitWeights(peer: number, row: Float64Array): void;
  produceBlock(): BlockState;
  latest(): BlockState;
}

export interface MechanismChainOptions {
  n: number;
  tau: number;
  epsilon: number;
  /** Initial stake of every peer. */
  initialStake?: number;
}

export class MechanismChain implements SwarmChain {
  readonly n: number;
  private readonly tau: number;
  private readonly epsilon: number;
  private state: BlockState;
  private readonly pending = new Map<number, Float64Array>();

  constructor(opts: MechanismChainOptions) {
    const { n } = opts;
    this.n = n;
    this.tau = opts.tau;
    this.epsilon = opts.epsilon;
    // W0 uniform: nobody is preferred before anyone has measured anything.
    const W = new Float64Array(n * n).fill(1 / n);
    const S = new Float64Array(n).fill(opts.initialStake ?? 1);
    this.state = { height: 0, n, W, S, R: rank(W, S, n), tau: opts.tau };
  }

  submitWeights(peer: number, row: Float64Array): void {
    if (!Number.isInteger(peer) || peer < 0 || peer >= this.n) throw new RangeError(`no peer ${peer}`);
    if (row.length !== this.n) throw new RangeError(`row has ${row.length} entries, need ${this.n}`);
    this.pending.set(peer, projectToSimplex(row));
  }

  produceBlock(): BlockState {
    const { n } = this;
    const W = this.state.W.slice();
    for (const [i, row] of this.pending) {
      const old = W.subarray(i * n, (i + 1) * n);
      boundRowStep(old.slice(), row, this.epsilon, old);
    }
    this.pending.clear();
    const R = rank(W, this.state.S, n);
    const S = inflate(this.state.S, R, this.tau);
    this.state = { height: this.state.height + 1, n, W, S, R, tau: this.tau };
    return this.state;
  }

  latest(): BlockState {
    return this.state;
  }
}
