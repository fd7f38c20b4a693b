/**
 * The replay memory of the student of G (eq 11; g-student.ts): the latest
 * live answers it was given, kept so that every distillation step fits on
 * more than the few rows that just came in.
 *
 * Why: a step routes each remote slot only its top-k share of a batch (a
 * dozen rows of 32 at D = 4), and the student was fitted once every
 * `distillEverySteps` steps on those rows alone. After 300 steps a block had
 * seen a few thousand examples, once each, and explained well under half of
 * its neighbour's answer (measured in the swarm at D = 4 of 16: the best
 * scale of f̂_j on M·f_j was 0.3-0.6); offline accuracy and what a depth-1
 * answer carries were limited by that, not by the student's width. Keeping
 * the answers of every step (not only of the steps that fit) and replaying a
 * sample of them multiplies what each block learns from, at local cost only:
 * no extra query goes out.
 *
 * Staleness is bounded by the capacity: with the newest rows always written
 * over the oldest, a replayed answer is at most `capacity` rows old (about a
 * block of steps at the default), so a neighbour's drifting encoder or a new
 * mask of eq 7 is followed within that. When a slot changes hands its rows
 * are forgotten (`drop`): the new holder's block never learns the old
 * holder's answers.
 */
import { createRng, type Rng } from '@peerbench/mechanism';
import type { SlotAnswer } from './g-student.js';

export interface StudentReplayOptions {
  /** Rows kept (the newest overwrite the oldest). */
  capacity: number;
  inputSize: number;
  /** Width of one row's targets: (slots − 1)·d. */
  width: number;
  /** d: one slot's block of a row. */
  d: number;
  seed?: number;
}

/** A batch for one fit: x [rows, inputSize], targets and weights [rows, width]. */
export interface ReplayBatch {
  rows: number;
  x: Float32Array;
  target: Float32Array;
  weight: Float32Array;
  /** Σ weight: the number of target values that count. */
  count: number;
}

export class StudentReplay {
  private readonly x: Float32Array;
  private readonly target: Float32Array;
  private readonly weight: Float32Array;
  /** Rows written so far (the ring's write head is written % capacity). */
  private written = 0;
  /** `written` at the latest `batch`: rows after it are fresh. */
  private fitMark = 0;
  private readonly rng: Rng;

  constructor(private readonly opts: StudentReplayOptions) {
    if (!(opts.capacity >= 1)) throw new RangeError(`replay capacity must be ≥ 1, got ${opts.capacity}`);
    this.x = new Float32Array(opts.capacity * opts.inputSize);
    this.target = new Float32Array(opts.capacity * opts.width);
    this.weight = new Float32Array(opts.capacity * opts.width);
    this.rng = createRng(opts.seed ?? Math.floor(Math.random() * 2 ** 31));
  }

  /** Rows held now. */
  get size(): number {
    return Math.min(this.written, this.opts.capacity);
  }

  /**
   * Keeps the rows of xData (rows × inputSize) that at least one answer
   * covers, each with the answered slots' blocks as targets.
   */
  add(xData: Float32Array, answers: readonly SlotAnswer[]): void {
    const { inputSize, width, d, capacity } = this.opts;
    const at = new Map<number, number>();
    for (const a of answers) {
      const offset = (a.slot - 1) * d;
      a.rows.forEach((r, i) => {
        let ring = at.get(r);
        if (ring === undefined) {
          ring = this.written++ % capacity;
          at.set(r, ring);
          this.x.set(xData.subarray(r * inputSize, (r + 1) * inputSize), ring * inputSize);
          this.weight.fill(0, ring * width, (ring + 1) * width);
        }
        this.target.set(a.data.subarray(i * d, (i + 1) * d), ring * width + offset);
        this.weight.fill(1, ring * width + offset, ring * width + offset + d);
      });
    }
  }

  /** Forgets every kept target of slot (its peer changed). */
  drop(slot: number): void {
    const { width, d } = this.opts;
    for (let r = 0; r < this.size; r++) this.weight.fill(0, r * width + (slot - 1) * d, r * width + slot * d);
  }

  /**
   * The rows to fit on now: every row added since the previous call (capped
   * at capacity) and up to `replay` older rows drawn at random without
   * replacement. Null when there is nothing new (a fit replays only beside
   * fresh answers, so the student never runs ahead of the network).
   */
  batch(replay: number): ReplayBatch | null {
    const { capacity, inputSize, width } = this.opts;
    const fresh = Math.min(this.written - this.fitMark, capacity);
    this.fitMark = this.written;
    if (fresh <= 0) return null;
    const picked: number[] = [];
    for (let k = 1; k <= fresh; k++) picked.push((this.written - k) % capacity);
    const older = this.size - fresh;
    if (older > 0 && replay > 0) {
      // Partial Fisher-Yates over the older rows' ages (fresh ≤ age < size).
      const ages = Array.from({ length: older }, (_, i) => fresh + i);
      const take = Math.min(replay, older);
      for (let i = 0; i < take; i++) {
        const j = i + this.rng.int(older - i);
        [ages[i], ages[j]] = [ages[j]!, ages[i]!];
        picked.push((this.written - 1 - ages[i]!) % capacity);
      }
    }
    const rows = picked.length;
    const out: ReplayBatch = {
      rows,
      x: new Float32Array(rows * inputSize),
      target: new Float32Array(rows * width),
      weight: new Float32Array(rows * width),
      count: 0,
    };
    picked.forEach((ring, i) => {
      out.x.set(this.x.subarray(ring * inputSize, (ring + 1) * inputSize), i * inputSize);
      out.target.set(this.target.subarray(ring * width, (ring + 1) * width), i * width);
      out.weight.set(this.weight.subarray(ring * width, (ring + 1) * width), i * width);
    });
    for (let i = 0; i < out.weight.length; i++) out.count += out.weight[i]!;
    return out;
  }
}
