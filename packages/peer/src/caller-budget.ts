/**
 * What each caller of an expert may hold and do (issue 15: one caller could
 * wreck another peer's encoder). Per caller: its saved forward inputs (so a
 * flood of one-row forwards from one caller evicts that caller's inputs, not
 * an honest caller's) and its backward steps in the current block. Pure
 * bookkeeping, no tfjs.
 */

export interface SavedInput {
  x: Float32Array;
  rows: number;
  mask: number;
  expiresAt: number;
}

export interface CallerBudgetLimits {
  /** Forward inputs kept for all callers together (oldest of the largest caller dropped first). */
  maxSavedInputs: number;
  maxSavedInputBytes: number;
  /** Forward inputs kept per caller (its oldest dropped first). */
  maxSavedInputsPerCaller: number;
  maxSavedInputBytesPerCaller: number;
  /** Backward steps one caller may apply per block (reset by newBlock()). */
  maxBackwardsPerCallerPerBlock: number;
  /** Without blocks (no ledger, or a stalled one) the budget refills after this long anyway. */
  budgetWindowMs: number;
}

interface CallerState {
  saved: Map<string, SavedInput>;
  savedBytes: number;
  backwardsThisBlock: number;
}

export class CallerBudget {
  private readonly callers = new Map<string, CallerState>();
  private totalSaved = 0;
  private totalBytes = 0;
  private refilledAtMs: number;

  constructor(
    private readonly limits: CallerBudgetLimits,
    private readonly now: () => number,
  ) {
    this.refilledAtMs = now();
  }

  get savedInputs(): number {
    return this.totalSaved;
  }

  get savedInputBytes(): number {
    return this.totalBytes;
  }

  /** Saved inputs of one caller (for tests and stats). */
  savedInputsOf(caller: string): number {
    return this.callers.get(caller)?.saved.size ?? 0;
  }

  private stateOf(caller: string): CallerState {
    let s = this.callers.get(caller);
    if (!s) {
      s = { saved: new Map(), savedBytes: 0, backwardsThisBlock: 0 };
      this.callers.set(caller, s);
    }
    return s;
  }

  /** Keeps a forward input for its backward; a repeated request id replaces its input. */
  save(caller: string, requestId: string, input: SavedInput): void {
    this.expire();
    const s = this.stateOf(caller);
    this.drop(caller, requestId);
    s.saved.set(requestId, input);
    s.savedBytes += input.x.byteLength;
    this.totalSaved++;
    this.totalBytes += input.x.byteLength;
    while (
      s.saved.size > this.limits.maxSavedInputsPerCaller ||
      s.savedBytes > this.limits.maxSavedInputBytesPerCaller
    ) {
      const oldest = s.saved.keys().next().value;
      if (oldest === undefined) break;
      this.drop(caller, oldest);
    }
    while (this.totalSaved > this.limits.maxSavedInputs || this.totalBytes > this.limits.maxSavedInputBytes) {
      const largest = this.largestCaller();
      const oldest = largest ? this.callers.get(largest)?.saved.keys().next().value : undefined;
      if (!largest || oldest === undefined) break;
      this.drop(largest, oldest);
    }
  }

  /** Removes and returns the input saved for this request (undefined: none or expired). */
  take(caller: string, requestId: string): SavedInput | undefined {
    this.expire();
    const input = this.callers.get(caller)?.saved.get(requestId);
    if (input) this.drop(caller, requestId);
    return input;
  }

  /** Counts one backward step against the caller's block budget; false when it is spent. */
  tryBackward(caller: string): boolean {
    if (this.now() - this.refilledAtMs >= this.limits.budgetWindowMs) this.newBlock();
    const s = this.stateOf(caller);
    if (s.backwardsThisBlock >= this.limits.maxBackwardsPerCallerPerBlock) return false;
    s.backwardsThisBlock++;
    return true;
  }

  /** A new block: every caller's backward budget is full again; callers with nothing saved are forgotten. */
  newBlock(): void {
    this.refilledAtMs = this.now();
    for (const [caller, s] of this.callers) {
      s.backwardsThisBlock = 0;
      if (s.saved.size === 0) this.callers.delete(caller);
    }
  }

  /** Forgets one caller: its saved inputs and its block budget (its link closed). */
  forget(caller: string): void {
    const s = this.callers.get(caller);
    if (!s) return;
    for (const id of [...s.saved.keys()]) this.drop(caller, id);
    this.callers.delete(caller);
  }

  clear(): void {
    this.callers.clear();
    this.totalSaved = 0;
    this.totalBytes = 0;
  }

  private drop(caller: string, requestId: string): void {
    const s = this.callers.get(caller);
    const input = s?.saved.get(requestId);
    if (!s || !input) return;
    s.saved.delete(requestId);
    s.savedBytes -= input.x.byteLength;
    this.totalSaved--;
    this.totalBytes -= input.x.byteLength;
  }

  private expire(): void {
    const t = this.now();
    for (const [caller, s] of this.callers)
      for (const [id, input] of s.saved) if (input.expiresAt <= t) this.drop(caller, id);
  }

  private largestCaller(): string | undefined {
    let best: string | undefined;
    let bestBytes = -1;
    for (const [caller, s] of this.callers)
      if (s.saved.size > 0 && s.savedBytes > bestBytes) {
        best = caller;
        bestBytes = s.savedBytes;
      }
    return best;
  }
}
