/**
 * The inputs callers train on, kept by the expert that answered them (issue
 * 16): a bounded ring of rows per caller, from which the peer's own steps
 * draw distillation queries (distillation-queries.ts).
 *
 * Why: the student of G (g-student.ts) learns neighbour j only on the inputs
 * it sees j answer. Learning from its own batches alone, peer B learns C only
 * over B's own (skewed) data, so B's depth-1 answers carry nothing of C
 * where B's callers need it, and B's offline view of C is wrong off B's
 * distribution (docs/results/depth1.md). The inputs B's callers send are
 * exactly the distribution B's answers are read on.
 *
 * What is kept: the rows of a forward whose backward the expert accepted
 * (ExpertServer calls `add` after its budget checks). Only training steps
 * send a backward: a caller's evaluation or scoring forwards (its held-out
 * and validation inputs) never reach this buffer, so nothing held out is
 * ever distilled on. Bounds: `CALLER_INPUT_ROWS_PER_CALLER` rows per caller
 * (a ring: the newest replace the oldest), `CALLER_INPUT_MAX_CALLERS` callers
 * (the caller heard from longest ago is dropped); a caller can add at most
 * its backward budget per block, so one caller's flood only replaces its own
 * rows. Plain Float32Arrays: no tensor lives here.
 */

/** Rows kept per caller (a ring). 128 rows × 784 floats ≈ 0.4 MB per caller for MNIST. */
export const CALLER_INPUT_ROWS_PER_CALLER = 128;
/** Callers kept at once; beyond, the caller heard from longest ago is dropped. */
export const CALLER_INPUT_MAX_CALLERS = 16;

/** Where an expert puts the inputs of the training forwards it answered. */
export interface CallerInputSink {
  add(callerId: string, x: Float32Array, rows: number): void;
}

interface Ring {
  data: Float32Array;
  /** Rows held (≤ capacity). */
  size: number;
  /** Next row to overwrite. */
  head: number;
  /** Next row `take` reads. */
  cursor: number;
}

export class CallerInputs implements CallerInputSink {
  private readonly rings = new Map<string, Ring>();
  /** Round-robin position over callers for `take`. */
  private nextCaller = 0;
  /** Rows refused by `add` (wrong width or a non-finite value). */
  rejected = 0;

  constructor(
    readonly inputSize: number,
    readonly rowsPerCaller = CALLER_INPUT_ROWS_PER_CALLER,
    readonly maxCallers = CALLER_INPUT_MAX_CALLERS,
  ) {
    if (!(inputSize > 0 && rowsPerCaller > 0 && maxCallers > 0))
      throw new RangeError('CallerInputs: sizes must be positive');
  }

  /** Rows held over every caller. */
  get rows(): number {
    let n = 0;
    for (const r of this.rings.values()) n += r.size;
    return n;
  }

  get callers(): number {
    return this.rings.size;
  }

  /** Keeps the `rows` rows of x (row-major, `inputSize` wide); a malformed input is refused whole. */
  add(callerId: string, x: Float32Array, rows: number): void {
    if (!Number.isInteger(rows) || rows <= 0 || x.length !== rows * this.inputSize) {
      this.rejected += Math.max(0, rows | 0);
      return;
    }
    for (let i = 0; i < x.length; i++)
      if (!Number.isFinite(x[i]!)) {
        this.rejected += rows;
        return;
      }
    let ring = this.rings.get(callerId);
    if (ring) this.rings.delete(callerId);
    else {
      if (this.rings.size >= this.maxCallers) {
        const oldest = this.rings.keys().next().value as string;
        this.rings.delete(oldest);
      }
      ring = { data: new Float32Array(this.rowsPerCaller * this.inputSize), size: 0, head: 0, cursor: 0 };
    }
    // Re-inserted: Map order is "heard from longest ago" first.
    this.rings.set(callerId, ring);
    const w = this.inputSize;
    // More rows than the ring holds: only the last rowsPerCaller matter.
    const from = Math.max(0, rows - this.rowsPerCaller);
    for (let r = from; r < rows; r++) {
      ring.data.set(x.subarray(r * w, (r + 1) * w), ring.head * w);
      ring.head = (ring.head + 1) % this.rowsPerCaller;
      ring.size = Math.min(this.rowsPerCaller, ring.size + 1);
    }
  }

  /**
   * Up to `n` rows, taken round-robin over callers (one row from each in
   * turn, each caller's rows in ring order), so every caller's distribution
   * is covered; deterministic given the order rows arrived. Null when empty.
   */
  take(n: number): { x: Float32Array; rows: number } | null {
    const rings = [...this.rings.values()].filter((r) => r.size > 0);
    if (rings.length === 0 || n <= 0) return null;
    const w = this.inputSize;
    const total = rings.reduce((s, r) => s + r.size, 0);
    const rows = Math.min(n, total);
    const out = new Float32Array(rows * w);
    for (let i = 0; i < rows; i++) {
      const ring = rings[this.nextCaller++ % rings.length]!;
      const r = ring.cursor % ring.size;
      ring.cursor = (r + 1) % ring.size;
      out.set(ring.data.subarray(r * w, (r + 1) * w), i * w);
    }
    return { x: out, rows };
  }

  /** A caller's link closed: its rows go. */
  forget(callerId: string): void {
    this.rings.delete(callerId);
  }

  clear(): void {
    this.rings.clear();
  }
}
